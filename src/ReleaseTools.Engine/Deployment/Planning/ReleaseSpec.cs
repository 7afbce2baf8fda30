using System;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Packages;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>
    /// One release to put on instances: version, fversion, where its package comes from and its rendered config.
    /// A deployment has one per (service, environment); a rollback has one per distinct earlier release.
    /// </summary>
    internal sealed class ReleaseSpec
    {
        public ReleaseSpec(string service, string environment, string version, string fversion, PackageSupply package, RenderedConfig? config)
        {
            Service = service;
            Environment = environment;
            Version = version;
            FVersion = fversion;
            Package = package;
            Config = config;
        }

        public string Service { get; }
        public string Environment { get; }
        public string Version { get; }
        public string FVersion { get; }
        public PackageSupply Package { get; }
        public RenderedConfig? Config { get; }
    }

    /// <summary>
    /// The package of a release, fetched at most once per run and only when some agent needs it: a rollback to a
    /// release the agents still hold transfers nothing and downloads nothing. A cached copy found damaged on disk (or
    /// gone) while it is pushed is replaced once for the whole run: removed, and fetched again from its source.
    /// </summary>
    internal sealed class PackageSupply
    {
        private readonly object _gate = new object();
        private readonly Func<CancellationToken, Task<AcquiredPackage>> _acquire;
        private readonly Func<CancellationToken, Task<AcquiredPackage>>? _fetchAgain;
        private readonly Action<string>? _warn;
        private Task<AcquiredPackage>? _task;

        private PackageSupply(string source, string? md5, long? length, Func<CancellationToken, Task<AcquiredPackage>> acquire,
            Func<CancellationToken, Task<AcquiredPackage>>? fetchAgain, Action<string>? warn)
        {
            Source = source;
            Md5 = md5;
            Length = length;
            _acquire = acquire;
            _fetchAgain = fetchAgain;
            _warn = warn;
        }

        /// <summary>URL or path as recorded in history.</summary>
        public string Source { get; }
        /// <summary>Lowercase hex MD5 when known before acquisition.</summary>
        public string? Md5 { get; }
        /// <summary>The package's size in bytes when it is at hand before any instance needs it.</summary>
        public long? Length { get; }

        /// <summary>
        /// A package acquired before the run; <paramref name="fetchAgain"/> acquires it anew if its cached copy turns out
        /// damaged (without it, the copy is left as it is and its push fails again the same way).
        /// </summary>
        public static PackageSupply Ready(AcquiredPackage package, Func<CancellationToken, Task<AcquiredPackage>>? fetchAgain = null, Action<string>? warn = null) =>
            new PackageSupply(package.Source, package.Md5, package.Length, _ => Task.FromResult(package), fetchAgain, warn);

        /// <summary>
        /// A package acquired when the first instance needs it; a damaged cached copy is acquired the same way again, and
        /// <paramref name="warn"/> hears that it was.
        /// </summary>
        public static PackageSupply Lazy(string source, string? md5, Func<CancellationToken, Task<AcquiredPackage>> acquire, Action<string>? warn = null) =>
            new PackageSupply(source, md5, null, acquire, acquire, warn);

        /// <summary>All callers share one acquisition; a failed or cancelled one is tried again by the next caller.</summary>
        public Task<AcquiredPackage> GetAsync(CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                if (_task == null || _task.IsFaulted || _task.IsCanceled)
                {
                    _task = _acquire(cancellationToken);
                }

                return _task;
            }
        }

        /// <summary>
        /// The package again, after <paramref name="damaged"/> (a cached copy whose bytes no longer match its MD5, or that
        /// vanished) failed a push: the first caller removes it and fetches the package from its source; the instances
        /// that fail on the same copy meanwhile share that one fetch.
        /// </summary>
        public Task<AcquiredPackage> ReplaceDamagedAsync(AcquiredPackage damaged, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                if (_fetchAgain == null)
                {
                    return _task ?? _acquire(cancellationToken);
                }

                if (_task != null && _task.Status == TaskStatus.RanToCompletion && ReferenceEquals(_task.Result, damaged))
                {
                    PackageCache.TryDelete(damaged.FilePath);
                    _warn?.Invoke($"The cached copy '{damaged.FilePath}' of {damaged.Source} no longer matched its MD5 {damaged.Md5} (damaged on disk, or " +
                        "removed): it was removed and the package fetched again from its source.");
                    _task = _fetchAgain(cancellationToken);
                }
                else if (_task == null || _task.IsFaulted || _task.IsCanceled)
                {
                    _task = _fetchAgain(cancellationToken);
                }

                return _task;
            }
        }
    }
}
