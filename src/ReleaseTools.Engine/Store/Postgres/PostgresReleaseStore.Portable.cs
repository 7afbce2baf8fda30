using System;
using System.Collections.Generic;
using System.Data;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;
using ReleaseTools.Engine.Store.Portable;

namespace ReleaseTools.Engine.Store.Postgres
{
    // Backup and restore: every portable table read in one snapshot, written back in one transaction.
    public sealed partial class PostgresReleaseStore : IPortableStore
    {
        string IPortableStore.Kind => "postgresql";

        int IPortableStore.SchemaVersion => PostgresMigrations.LatestVersion;

        /// <summary>One REPEATABLE READ, READ ONLY transaction: a single snapshot of every table while runs keep writing.</summary>
        async Task IPortableStore.ExportAsync(Action<PortableTable, object?[]> row, CancellationToken cancellationToken)
        {
            using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                using var snapshot = connection.BeginTransaction(IsolationLevel.RepeatableRead);
                using (var readOnly = PostgresCommands.Create(connection, snapshot, "SET TRANSACTION READ ONLY"))
                {
                    await readOnly.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                foreach (var table in PortableSchema.Tables)
                {
                    using var select = PostgresCommands.Create(connection, snapshot, "SELECT " + table.ColumnList + " FROM " + table.Name);
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
            catch (NpgsqlException ex)
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
                    using var truncate = PostgresCommands.Create(connection, transaction,
                        "TRUNCATE " + string.Join(", ", PortableSchema.Tables.Select(t => t.Name).Append("instance_leases")));
                    await truncate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                else if (!await IsEmptyAsync(connection, transaction, cancellationToken).ConfigureAwait(false))
                {
                    throw StoreBackup.NotEmpty(this);
                }

                var inserts = new Dictionary<PortableTable, NpgsqlCommand>();
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
                            insert = PostgresCommands.Create(connection, transaction, "INSERT INTO " + pair.Key.Name + " (" + pair.Key.ColumnList + ") VALUES (" +
                                string.Join(", ", pair.Key.Columns.Select((_, i) => "$" + (i + 1))) + ")");
                            foreach (var column in pair.Key.Columns)
                            {
                                insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = TypeOf(column.Kind) });
                            }

                            await insert.PrepareAsync(cancellationToken).ConfigureAwait(false);
                            inserts[pair.Key] = insert;
                        }

                        for (var i = 0; i < pair.Value.Length; i++)
                        {
                            insert.Parameters[i].Value = pair.Value[i] ?? DBNull.Value;
                        }

                        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    foreach (var insert in inserts.Values)
                    {
                        insert.Dispose();
                    }
                }

                // Rows came with their sequence numbers; new rows must continue after them.
                using (var sequences = PostgresCommands.Create(connection, transaction,
                    "SELECT setval(pg_get_serial_sequence('version_history', 'sequence'), coalesce((SELECT max(sequence) FROM version_history), 0) + 1, false), " +
                    "setval(pg_get_serial_sequence('deployment_audit', 'sequence'), coalesce((SELECT max(sequence) FROM deployment_audit), 0) + 1, false)"))
                {
                    await sequences.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                return true;
            }, cancellationToken);

        private static NpgsqlDbType TypeOf(PortableKind kind) => kind switch
        {
            PortableKind.Integer => NpgsqlDbType.Bigint,
            PortableKind.Boolean => NpgsqlDbType.Boolean,
            PortableKind.Bytes => NpgsqlDbType.Bytea,
            _ => NpgsqlDbType.Text,
        };

        private static async Task<bool> IsEmptyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
        {
            using var count = PostgresCommands.Create(connection, transaction,
                "SELECT NOT (EXISTS (SELECT 1 FROM instances) OR EXISTS (SELECT 1 FROM deployments) OR EXISTS (SELECT 1 FROM version_history) " +
                "OR EXISTS (SELECT 1 FROM config_snapshots) OR EXISTS (SELECT 1 FROM deployment_audit))");
            return (bool)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
    }
}
