using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Engine.Store.Postgres
{
    // The release lifecycle's records run on this store's transactions (the SQL is LifecycleStore's, shared with SQLite).
    // A release row is read FOR UPDATE before it is judged, so two machines firing events at once queue on the row lock;
    // every time recorded is the server's.
    public sealed partial class PostgresReleaseStore : ILifecycleDatabase
    {
        private LifecycleStore? _lifecycle;

        public ILifecycleStore Lifecycle => LazyInitializer.EnsureInitialized(ref _lifecycle, () => new LifecycleStore(this))!;

        string ILifecycleDatabase.LockRow => " FOR UPDATE";

        Task<T> ILifecycleDatabase.ReadAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken cancellationToken) =>
            ReadAsync(connection => work(connection), cancellationToken);

        Task<T> ILifecycleDatabase.WriteAsync<T>(Func<DbConnection, DbTransaction, DateTimeOffset, Task<T>> work, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                return await work(connection, transaction, now).ConfigureAwait(false);
            }, cancellationToken);
    }
}
