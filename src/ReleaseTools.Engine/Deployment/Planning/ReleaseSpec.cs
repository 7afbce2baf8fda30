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
    /// release the agents still hold transfers nothing and downloads nothing.
    /// </summary>
    internal sealed class PackageSupply
    {
        private readonly object _gate = new object();
        private readonly Func<CancellationToken, Task<AcquiredPackage>> _acquire;
        private Task<AcquiredPackage>? _task;

        private PackageSupply(string source, string? md5, long? length, Func<CancellationToken, Task<AcquiredPackage>> acquire)
        {
            Source = source;
            Md5 = md5;
            Length = length;
            _acquire = acquire;
        }

        /// <summary>URL or path as recorded in history.</summary>
        public string Source { get; }
        /// <summary>Lowercase hex MD5 when known before acquisition.</summary>
        public string? Md5 { get; }
        /// <summary>The package's size in bytes when it is at hand before any instance needs it.</summary>
        public long? Length { get; }

        public static PackageSupply Ready(AcquiredPackage package) =>
            new PackageSupply(package.Source, package.Md5, package.Length, _ => Task.FromResult(package));

        public static PackageSupply Lazy(string source, string? md5, Func<CancellationToken, Task<AcquiredPackage>> acquire) =>
            new PackageSupply(source, md5, null, acquire);

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
    }
}
