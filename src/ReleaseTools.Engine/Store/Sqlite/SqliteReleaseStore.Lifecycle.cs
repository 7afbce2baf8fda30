using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Engine.Store.Sqlite
{
    // The release lifecycle's records run on this store's transactions (the SQL is LifecycleStore's, shared with
    // PostgreSQL). BEGIN IMMEDIATE holds the write lock from the first read, so a release is judged and changed under one lock.
    public sealed partial class SqliteReleaseStore : ILifecycleDatabase
    {
        private LifecycleStore? _lifecycle;

        public ILifecycleStore Lifecycle => LazyInitializer.EnsureInitialized(ref _lifecycle, () => new LifecycleStore(this))!;

        string ILifecycleDatabase.LockRow => "";

        Task<T> ILifecycleDatabase.ReadAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken cancellationToken) =>
            ReadAsync(connection => work(connection), cancellationToken);

        Task<T> ILifecycleDatabase.WriteAsync<T>(Func<DbConnection, DbTransaction, DateTimeOffset, Task<T>> work, CancellationToken cancellationToken) =>
            WriteAsync((connection, transaction) => work(connection, transaction, Now()), cancellationToken);
    }
}
