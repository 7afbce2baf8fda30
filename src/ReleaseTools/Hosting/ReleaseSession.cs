using System;
using System.IO;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Engine.Lifecycle.Notifications;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Hosting
{
    /// <summary>The store and the engine one cmdlet invocation works with; opened lazily, disposed when the command ends.</summary>
    internal sealed class ReleaseSession : IDisposable
    {
        private DeploymentEngine? _engine;
        private WebhookNotifier? _notifier;
        private ReleaseLifecycle? _lifecycle;

        private ReleaseSession(IReleaseStore store, StoreTarget target)
        {
            Store = store;
            Target = target;
        }

        public IReleaseStore Store { get; }

        public StoreTarget Target { get; }

        /// <summary>The store as messages name it: a file path, or a server address without its password.</summary>
        public string StorePath => Target.Display;

        public DeploymentEngine Engine => _engine ??= new DeploymentEngine(Store, new EngineOptions
        {
            // Packages are cached beside the store (or the default store, for a server), so a rollback on the same machine re-uses them.
            PackageCacheDirectory = Path.Combine(Target.LocalDataFolder, "packages"),
        });

        /// <summary>Announces release transitions to the store's webhooks (see WebhookNotifier for how long it may take).</summary>
        public WebhookNotifier Notifier => _notifier ??= new WebhookNotifier(Store);

        /// <summary>The release lifecycle over this store's engine, announcing to the store's webhooks.</summary>
        public ReleaseLifecycle Lifecycle => _lifecycle ??= new ReleaseLifecycle(Engine, Notifier);

        /// <summary>Opens (creating if needed) the store at the resolved location: explicit location, RELEASETOOLS_STORE, per-user default.</summary>
        public static ReleaseSession Open(string? explicitStoreLocation) => Open(StoreLocation.ResolveTarget(explicitStoreLocation));

        public static ReleaseSession Open(StoreTarget target) => new ReleaseSession(StoreLocation.Open(target), target);

        /// <summary>For read-only helpers such as argument completion: null when there is no store file yet, rather than creating one.</summary>
        public static ReleaseSession? OpenExisting(string? explicitStoreLocation)
        {
            var target = StoreLocation.ResolveTarget(explicitStoreLocation);
            return target.FilePath is null || File.Exists(target.FilePath) ? Open(target) : null;
        }

        public void Dispose()
        {
            _engine?.Dispose();
            _notifier?.Dispose();
            Store.Dispose();
        }
    }
}
