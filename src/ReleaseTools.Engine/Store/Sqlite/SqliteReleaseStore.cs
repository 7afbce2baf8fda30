using System;
using System.IO;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;

namespace ReleaseTools.Engine.Store.Sqlite
{
    /// <summary>
    /// The embedded release store: one SQLite file in WAL mode. Every operation takes a pooled connection and, when it
    /// writes, one short BEGIN IMMEDIATE transaction, so several processes can share the file and writers queue on the
    /// busy timeout instead of failing. The log is checkpointed into the file beside the writers, never inside a commit
    /// (<see cref="WalCheckpointer"/>). Safe to use from many threads at once.
    /// </summary>
    public sealed partial class SqliteReleaseStore : IReleaseStore
    {
        /// <summary>How long a writer waits for another process's transaction before giving up.</summary>
        public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(8);

        private static readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> ConfiguredHandles = new ConditionalWeakTable<SQLitePCL.sqlite3, object>();
        private static readonly object ConfiguredMarker = new object();

        private readonly string _connectionString;
        private readonly Func<DateTimeOffset> _clock;
        private readonly WalCheckpointPolicy _checkpointPolicy;
        private readonly WalCheckpointer _checkpointer;
        private int _disposed;

        private SqliteReleaseStore(string path, Func<DateTimeOffset> clock, WalCheckpointPolicy checkpointPolicy)
        {
            Location = path;
            _clock = clock;
            _checkpointPolicy = checkpointPolicy;
            _checkpointer = new WalCheckpointer(OpenConnection, checkpointPolicy);
            _connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = path,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Pooling = true,
                // Microsoft.Data.Sqlite retries busy statements until the command timeout; keep it just above ours.
                DefaultTimeout = (int)BusyTimeout.TotalSeconds + 2,
            }.ToString();
        }

        public string Location { get; }

        /// <summary>
        /// Opens the store at <paramref name="path"/>, creating the file and its folder when missing and bringing an
        /// older schema up to date. A file that is not a ReleaseTools store, is damaged, or was written by a newer
        /// release raises a <see cref="StoreException"/> and is not modified.
        /// </summary>
        public static SqliteReleaseStore Open(string path) => Open(path, () => DateTimeOffset.UtcNow);

        /// <summary>Opens with a caller-supplied clock, so lease expiry can be tested without waiting.</summary>
        internal static SqliteReleaseStore Open(string path, Func<DateTimeOffset> clock) =>
            OpenAtSchema(path, clock, StoreMigrations.LatestVersion);

        /// <summary>Opens with another checkpoint policy: tests reach the log's bounds with a few writes, the benchmark compares with SQLite's default.</summary>
        internal static SqliteReleaseStore Open(string path, Func<DateTimeOffset> clock, WalCheckpointPolicy checkpointPolicy) =>
            OpenAtSchema(path, clock, StoreMigrations.LatestVersion, checkpointPolicy);

        /// <summary>Opens and migrates only up to <paramref name="schemaVersion"/>: how tests build a store as an older release wrote it.</summary>
        internal static SqliteReleaseStore OpenAtSchema(string path, Func<DateTimeOffset> clock, int schemaVersion) =>
            OpenAtSchema(path, clock, schemaVersion, WalCheckpointPolicy.Default);

        private static SqliteReleaseStore OpenAtSchema(string path, Func<DateTimeOffset> clock, int schemaVersion, WalCheckpointPolicy checkpointPolicy)
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new ArgumentException("A store path is required.", nameof(path));
            }

            SqliteRuntime.EnsureInitialized();
            var fullPath = Path.GetFullPath(path);
            CreateFolder(fullPath);
            StoreFileInspector.EnsureUsable(fullPath);
            var store = new SqliteReleaseStore(fullPath, clock, checkpointPolicy);
            try
            {
                StoreMigrator.Migrate(store.OpenConnection(), fullPath, schemaVersion);
            }
            catch
            {
                store.Dispose();
                throw;
            }

            return store;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            // No background checkpoint may hold a handle when the pool is cleared. Closing the pooled handles then lets SQLite
            // checkpoint the WAL and lets callers move or delete the file.
            _checkpointer.Dispose();
            using var connection = new SqliteConnection(_connectionString);
            SqliteConnection.ClearPool(connection);
        }

        private static void CreateFolder(string fullPath)
        {
            var folder = Path.GetDirectoryName(fullPath);
            if (string.IsNullOrEmpty(folder) || Directory.Exists(folder))
            {
                return;
            }

            try
            {
                Directory.CreateDirectory(folder);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new StoreException(StoreErrorIds.StoreUnavailable,
                    $"The folder for the store '{fullPath}' cannot be created: {ex.Message} Choose a store path you can write to.", fullPath, ex);
            }
        }

        internal SqliteConnection OpenConnection()
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(SqliteReleaseStore));
            }

            var connection = new SqliteConnection(_connectionString);
            try
            {
                connection.Open();
                ConfigureOnce(connection);
                return connection;
            }
            catch (SqliteException ex)
            {
                connection.Dispose();
                throw Translate(ex);
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Per-handle settings, applied the first time a pooled native handle is seen: native busy waiting (cheaper than
        /// the provider's retry loop); synchronous=NORMAL, which in WAL mode cannot corrupt the file and only risks the
        /// last commits on power loss, and makes each short transaction cost no fsync; a larger page cache and memory-mapped
        /// reads so index lookups over a large registry stay in memory; SQLite's automatic checkpoint moved from 1000 pages
        /// to a fallback bound, because <see cref="WalCheckpointer"/> checkpoints beside the writers instead of inside their
        /// commits; and a size the log file is cut back to after a large transaction.
        /// </summary>
        private void ConfigureOnce(SqliteConnection connection)
        {
            var handle = connection.Handle!;
            if (ConfiguredHandles.TryGetValue(handle, out _))
            {
                return;
            }

            SQLitePCL.raw.sqlite3_busy_timeout(handle, (int)BusyTimeout.TotalMilliseconds);
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384; PRAGMA mmap_size = 268435456; " +
                    $"PRAGMA wal_autocheckpoint = {_checkpointPolicy.WriterFallbackPages}; PRAGMA journal_size_limit = {_checkpointPolicy.WalSizeLimitBytes};";
                command.ExecuteNonQuery();
            }

            ConfiguredHandles.GetValue(handle, _ => ConfiguredMarker);
        }

        /// <summary>Runs a read on its own pooled connection.</summary>
        private async Task<T> ReadAsync<T>(Func<SqliteConnection, Task<T>> work, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var connection = OpenConnection();
            try
            {
                return await work(connection).ConfigureAwait(false);
            }
            catch (SqliteException ex)
            {
                throw Translate(ex);
            }
        }

        /// <summary>Runs a write in one BEGIN IMMEDIATE transaction; anything thrown inside rolls all of it back.</summary>
        private async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var connection = OpenConnection();
            try
            {
                // deferred: false makes Microsoft.Data.Sqlite issue BEGIN IMMEDIATE: the write lock is taken up front,
                // so two processes serialize here instead of one failing later with SQLITE_BUSY_SNAPSHOT.
                var transaction = connection.BeginTransaction(deferred: false);
                T result;
                try
                {
                    result = await work(connection, transaction).ConfigureAwait(false);
                    transaction.Commit();
                }
                catch
                {
                    EndFailed(connection, transaction);
                    throw;
                }

                transaction.Dispose();
                _checkpointer.Committed(connection);
                return result;
            }
            catch (SqliteException ex)
            {
                throw Translate(ex);
            }
        }

        /// <summary>
        /// Rolls back a transaction whose work or commit failed. After some errors (a full disk, an I/O error) SQLite has
        /// already undone the transaction itself, and the provider's ROLLBACK (which closing the connection repeats) would
        /// fail with "no transaction is active" and hide the first error, the one that says what happened. An empty
        /// transaction is opened for it to end instead.
        /// </summary>
        private static void EndFailed(SqliteConnection connection, SqliteTransaction transaction)
        {
            var handle = connection.Handle;
            if (handle != null && SQLitePCL.raw.sqlite3_get_autocommit(handle) != 0)
            {
                SQLitePCL.raw.sqlite3_exec(handle, "BEGIN");
            }

            try
            {
                transaction.Dispose();
            }
            catch (SqliteException)
            {
                // Nothing was left to roll back.
            }
        }

        private Exception Translate(SqliteException ex)
        {
            if (StoreFileInspector.IsCorruption(ex))
            {
                return StoreFileInspector.Corrupt(Location, $"SQLite reports: {ex.Message}", ex);
            }

            // SQLITE_BUSY (5) / SQLITE_LOCKED (6): another process held the store longer than the busy timeout.
            if (ex.SqliteErrorCode == 5 || ex.SqliteErrorCode == 6)
            {
                return new StoreException(StoreErrorIds.StoreUnavailable,
                    $"The store '{Location}' stayed locked by another process for more than {BusyTimeout.TotalSeconds:0} s. Try again; if it persists, look for a hung ReleaseTools process using this store.",
                    Location, ex);
            }

            return StoreFileInspector.DiskFailure(Location, ex) ?? (Exception)ex;
        }

        private DateTimeOffset Now() => _clock();
    }
}
