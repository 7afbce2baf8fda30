using System;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>What every operation of one engine shares: the store, the package acquirer (one HTTP pool), leases.</summary>
    internal sealed class EngineServices : IDisposable
    {
        public EngineServices(IReleaseStore store, EngineOptions options)
        {
            Store = store;
            Options = options;
            Packages = new PackageAcquirer(new PackageCache(options.PackageCacheDirectory), options.MaxPackageBytes, options.DownloadTimeout);
            Leases = new LeaseCoordinator(store, options.LeaseDuration, ProcessIdentity.Current);
            Launcher = new RunLauncher(store, Leases);
        }

        public IReleaseStore Store { get; }
        public EngineOptions Options { get; }
        public PackageAcquirer Packages { get; }
        public LeaseCoordinator Leases { get; }
        public RunLauncher Launcher { get; }

        public FloydClientHandle CreateClient(RunSettings settings) => FloydClientHandle.Create(settings, Options.ClientFactory);

        /// <summary>Runs whose owner died or whose lease expired become interrupted, and free their instances.</summary>
        public Task RecoverInterruptedAsync(CancellationToken cancellationToken) =>
            Store.RecoverInterruptedAsync(ProcessIdentity.IsAlive, cancellationToken);

        public ReleaseHistoryResolver HistoryResolver(EventPublisher events) =>
            new ReleaseHistoryResolver(Store, Packages, source => ProgressTo(events, source), events.Warn);

        public static PackageProgressCallback ProgressTo(EventPublisher events, string source) =>
            (received, total, fromCache) => events.Publish(new PackageProgress
            {
                Source = source,
                BytesReceived = received,
                TotalBytes = total,
                FromCache = fromCache,
            });

        public void Dispose() => Packages.Dispose();
    }
}
