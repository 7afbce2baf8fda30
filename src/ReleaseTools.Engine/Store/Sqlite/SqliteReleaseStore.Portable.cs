using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using ReleaseTools.Engine.Store.Portable;

namespace ReleaseTools.Engine.Store.Sqlite
{
    // Backup and restore: every portable table read in one snapshot, written back in one transaction.
    public sealed partial class SqliteReleaseStore : IPortableStore
    {
        string IPortableStore.Kind => "sqlite";

        int IPortableStore.SchemaVersion => StoreMigrations.LatestVersion;

        /// <summary>
        /// One deferred transaction: in WAL mode its reads see one snapshot of the file however many runs commit meanwhile,
        /// and it blocks no writer. (SQLite's page-level backup API would copy a file only SQLite can read; the portable
        /// rows restore into either store.)
        /// </summary>
        async Task IPortableStore.ExportAsync(Action<PortableTable, object?[]> row, CancellationToken cancellationToken)
        {
            using var connection = OpenConnection();
            try
            {
                using var snapshot = connection.BeginTransaction(deferred: true);
                foreach (var table in PortableSchema.Tables)
                {
                    using var select = StoreCommands.Create(connection, snapshot, "SELECT " + table.ColumnList + " FROM " + table.Name);
                    using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        var values = new object?[table.Columns.Count];
                        for (var i = 0; i < values.Length; i++)
                        {
                            values[i] = PortableSchema.Read(reader, i, table.Columns[i].Kind);
                        }

                        row(table, values);
                    }
                }
            }
            catch (SqliteException ex)
            {
                throw Translate(ex);
            }
        }

        Task<bool> IPortableStore.IsEmptyAsync(CancellationToken cancellationToken) =>
            ReadAsync(connection => IsEmptyAsync(connection, null, cancellationToken), cancellationToken);

        Task IPortableStore.ImportAsync(IEnumerable<KeyValuePair<PortableTable, object?[]>> rows, bool replace, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                if (replace)
                {
                    foreach (var table in PortableSchema.Tables.Select(t => t.Name).Append("instance_leases"))
                    {
                        using var delete = StoreCommands.Create(connection, transaction, "DELETE FROM " + table);
                        await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                else if (!await IsEmptyAsync(connection, transaction, cancellationToken).ConfigureAwait(false))
                {
                    throw StoreBackup.NotEmpty(this);
                }

                var inserts = new Dictionary<PortableTable, SqliteCommand>();
                try
                {
                    var count = 0;
                    foreach (var pair in rows)
                    {
                        if ((count++ & 1023) == 0)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                        }

                        if (!inserts.TryGetValue(pair.Key, out var insert))
                        {
                            insert = StoreCommands.Create(connection, transaction, "INSERT INTO " + pair.Key.Name + " (" + pair.Key.ColumnList + ") VALUES (" +
                                string.Join(", ", pair.Key.Columns.Select((_, i) => "$p" + i)) + ")");
                            inserts[pair.Key] = insert;
                        }

                        for (var i = 0; i < pair.Value.Length; i++)
                        {
                            insert.With("$p" + i, pair.Value[i] is bool flag ? (flag ? 1L : 0L) : pair.Value[i]);
                        }

                        insert.ExecuteNonQuery();
                    }
                }
                finally
                {
                    foreach (var insert in inserts.Values)
                    {
                        insert.Dispose();
                    }
                }

                return true;
            }, cancellationToken);

        private static async Task<bool> IsEmptyAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
        {
            using var count = StoreCommands.Create(connection, transaction,
                "SELECT EXISTS (SELECT 1 FROM instances) OR EXISTS (SELECT 1 FROM deployments) OR EXISTS (SELECT 1 FROM version_history) " +
                "OR EXISTS (SELECT 1 FROM config_snapshots) OR EXISTS (SELECT 1 FROM deployment_audit)");
            return Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false)) == 0;
        }
    }
}
