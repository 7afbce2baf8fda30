using System;
using System.IO;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;

namespace ReleaseTools.Hosting
{
    /// <summary>The store and the engine one cmdlet invocation works with; opened lazily, disposed when the command ends.</summary>
    internal sealed class ReleaseSession : IDisposable
    {
        private DeploymentEngine? _engine;

        private ReleaseSession(IReleaseStore store, string storePath)
        {
            Store = store;
            StorePath = storePath;
        }

        public IReleaseStore Store { get; }

        public string StorePath { get; }

        public DeploymentEngine Engine => _engine ??= new DeploymentEngine(Store, new EngineOptions
        {
            // Packages are cached beside the store, so a rollback on the same machine re-uses them.
            PackageCacheDirectory = Path.Combine(Path.GetDirectoryName(StorePath) ?? ".", "packages"),
        });

        /// <summary>Opens (creating if needed) the store at the resolved location: explicit path, RELEASETOOLS_STORE, per-user default.</summary>
        public static ReleaseSession Open(string? explicitStorePath)
        {
            var path = StoreLocation.Resolve(explicitStorePath);
            return new ReleaseSession(SqliteReleaseStore.Open(path), path);
        }

        /// <summary>For read-only helpers such as argument completion: null when there is no store yet, rather than creating one.</summary>
        public static ReleaseSession? OpenExisting(string? explicitStorePath)
        {
            var path = StoreLocation.Resolve(explicitStorePath);
            return File.Exists(path) ? Open(path) : null;
        }

        public void Dispose()
        {
            _engine?.Dispose();
            Store.Dispose();
        }
    }
}
