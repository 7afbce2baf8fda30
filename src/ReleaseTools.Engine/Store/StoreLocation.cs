using System;
using System.IO;
using ReleaseTools.Engine.Store.Postgres;
using ReleaseTools.Engine.Store.Sqlite;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// Where the store lives when the caller does not say: the explicit location, then RELEASETOOLS_STORE, then a per-user
    /// SQLite file. A location is a SQLite file path, or a PostgreSQL server given as a postgresql:// URL or an Npgsql
    /// connection string.
    /// </summary>
    public static class StoreLocation
    {
        public const string EnvironmentVariable = "RELEASETOOLS_STORE";

        /// <summary>The SQLite file path for a path location (relative paths against the process's folder).</summary>
        public static string Resolve(string? explicitPath)
        {
            if (!string.IsNullOrWhiteSpace(explicitPath))
            {
                return Path.GetFullPath(explicitPath);
            }

            var fromEnvironment = System.Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                return Path.GetFullPath(fromEnvironment);
            }

            return DefaultPath();
        }

        /// <summary>Which store a location names, before anything is opened.</summary>
        public static StoreTarget ResolveTarget(string? explicitLocation)
        {
            var given = !string.IsNullOrWhiteSpace(explicitLocation) ? explicitLocation : System.Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (PostgresStoreAddress.Looks(given))
            {
                return StoreTarget.Server(PostgresStoreAddress.Parse(given!));
            }

            return StoreTarget.File(Resolve(given));
        }

        /// <summary>Opens (creating and migrating when needed) the store a location names.</summary>
        public static IReleaseStore Open(StoreTarget target) =>
            target.ServerAddress != null ? PostgresReleaseStore.Open(target.ServerAddress) : SqliteReleaseStore.Open(target.FilePath!);

        /// <summary>%LOCALAPPDATA%\ReleaseTools\releasetools.db on Windows, $XDG_DATA_HOME/ReleaseTools (or ~/.local/share/ReleaseTools) elsewhere.</summary>
        public static string DefaultPath()
        {
            var root = System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData, System.Environment.SpecialFolderOption.DoNotVerify);
            if (string.IsNullOrEmpty(root))
            {
                root = Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".local", "share");
            }

            return Path.Combine(root, "ReleaseTools", "releasetools.db");
        }
    }

    /// <summary>A resolved store location: a SQLite file, or a PostgreSQL server.</summary>
    public sealed class StoreTarget
    {
        private StoreTarget(string? filePath, PostgresStoreAddress? serverAddress)
        {
            FilePath = filePath;
            ServerAddress = serverAddress;
        }

        public string? FilePath { get; }

        public PostgresStoreAddress? ServerAddress { get; }

        /// <summary>For messages: the file path, or the server address without its password.</summary>
        public string Display => ServerAddress?.Display ?? FilePath!;

        /// <summary>The folder for this machine's package cache: beside a SQLite file, else beside the default store.</summary>
        public string LocalDataFolder => Path.GetDirectoryName(FilePath ?? StoreLocation.DefaultPath()) ?? ".";

        public static StoreTarget File(string path) => new StoreTarget(path, null);

        public static StoreTarget Server(PostgresStoreAddress address) => new StoreTarget(null, address);

        public override string ToString() => Display;
    }
}
