using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ReleaseTools.Engine.Store.Postgres
{
    /// <summary>
    /// The server release store: the same records as the SQLite store, in one schema of a PostgreSQL database that every
    /// machine of a team shares. Every operation takes a pooled connection and, when it writes, one short READ COMMITTED
    /// transaction whose row locks (never session advisory locks, which a pool would keep) decide races. Every time it
    /// records comes from the server's clock, so machines with drifting clocks agree on which lease has expired.
    /// Safe to use from many threads at once.
    /// </summary>
    public sealed partial class PostgresReleaseStore : IReleaseStore
    {
        // A plain pooled connection string, not an NpgsqlDataSource: on netstandard2.0 Npgsql declares DbDataSource and
        // DbBatch itself, so an engine compiled against that build could not use them where the newer Npgsql is loaded.
        private readonly string _connectionString;
        private readonly Func<DateTimeOffset, DateTimeOffset> _clock;
        private int _disposed;

        private PostgresReleaseStore(PostgresStoreAddress address, Func<DateTimeOffset, DateTimeOffset> clock)
        {
            Address = address;
            Location = address.Display;
            _clock = clock;
            _connectionString = address.Builder.ConnectionString;
        }

        public string Location { get; }

        public PostgresStoreAddress Address { get; }

        /// <summary>
        /// Opens the store at <paramref name="address"/> (a postgresql:// URL or a connection string), creating its schema
        /// and tables on a new server and bringing an older schema up to date. A schema written by a newer release raises
        /// a <see cref="StoreException"/> and is not modified.
        /// </summary>
        public static PostgresReleaseStore Open(string address) => Open(PostgresStoreAddress.Parse(address));

        public static PostgresReleaseStore Open(PostgresStoreAddress address) => Open(address, serverTime => serverTime);

        /// <summary>
        /// Opens with a clock that maps the server's time to the time recorded: how tests make leases expire without
        /// waiting (the server is still asked every time, so the code path is the one production uses).
        /// </summary>
        internal static PostgresReleaseStore Open(PostgresStoreAddress address, Func<DateTimeOffset, DateTimeOffset> clock) =>
            OpenAtSchema(address, clock, PostgresMigrations.LatestVersion);

        internal static PostgresReleaseStore OpenAtSchema(PostgresStoreAddress address, Func<DateTimeOffset, DateTimeOffset> clock, int schemaVersion)
        {
            var store = new PostgresReleaseStore(address, clock);
            try
            {
                using var connection = store.OpenConnection();
                PostgresMigrator.Migrate(connection, address, schemaVersion);
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

            using var connection = new NpgsqlConnection(_connectionString);
            NpgsqlConnection.ClearPool(connection);
        }

        internal NpgsqlConnection OpenConnection()
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(PostgresReleaseStore));
            }

            var connection = new NpgsqlConnection(_connectionString);
            try
            {
                connection.Open();
                return connection;
            }
            catch (Exception ex) when (ex is NpgsqlException || ex is System.Net.Sockets.SocketException || ex is TimeoutException)
            {
                connection.Dispose();
                throw Translate(ex);
            }
        }

        private async Task<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(PostgresReleaseStore));
            }

            var connection = new NpgsqlConnection(_connectionString);
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return connection;
            }
            catch (Exception ex) when (ex is NpgsqlException || ex is System.Net.Sockets.SocketException || ex is TimeoutException)
            {
                connection.Dispose();
                throw Translate(ex);
            }
        }

        /// <summary>Runs a read on its own pooled connection.</summary>
        private async Task<T> ReadAsync<T>(Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await work(connection).ConfigureAwait(false);
            }
            catch (NpgsqlException ex)
            {
                throw Translate(ex);
            }
        }

        /// <summary>
        /// Runs a write in one transaction; anything thrown inside rolls all of it back. A deadlock or serialization
        /// failure (another process locked the same rows in another order) is retried, since nothing was written.
        /// </summary>
        private Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken cancellationToken) =>
            WriteAsync(work, _ => true, cancellationToken);

        /// <summary>As <see cref="WriteAsync{T}(Func{NpgsqlConnection, NpgsqlTransaction, Task{T}}, CancellationToken)"/>, rolling back instead when <paramref name="commitWhen"/> says no.</summary>
        private async Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, Func<T, bool> commitWhen, CancellationToken cancellationToken)
        {
            for (var attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    using var transaction = connection.BeginTransaction();
                    var result = await work(connection, transaction).ConfigureAwait(false);
                    if (commitWhen(result))
                    {
                        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                    }

                    return result;
                }
                catch (PostgresException ex) when (attempt < 5 && (ex.SqlState == PostgresErrorCodes.DeadlockDetected || ex.SqlState == PostgresErrorCodes.SerializationFailure))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(10 * attempt), cancellationToken).ConfigureAwait(false);
                }
                catch (NpgsqlException ex)
                {
                    throw Translate(ex);
                }
            }
        }

        /// <summary>The server's time: the one clock every machine agrees on.</summary>
        private async Task<DateTimeOffset> ServerNowAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
        {
            using var command = PostgresCommands.Create(connection, transaction, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint");
            var ms = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            return _clock(StoreValues.FromUnixMs(ms));
        }

        /// <summary>
        /// Server errors become StoreExceptions that name the store by <see cref="Location"/> (never the connection string),
        /// so no password reaches an error record, verbose text or a log.
        /// </summary>
        internal Exception Translate(Exception ex) => PostgresErrors.Translate(ex, Location);
    }
}
