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

                await PortableRows.ReadAllAsync(connection, snapshot, row, cancellationToken).ConfigureAwait(false);
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
                        "TRUNCATE " + string.Join(", ", PortableSchema.Tables.Where(t => t.Rows == null).Select(t => t.Name).Concat(PortableSchema.LeaseTables)));
                    await truncate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

                    // A table shared with rows that are not carried (the store's key/value table) loses only the carried ones.
                    foreach (var shared in PortableSchema.Tables.Where(t => t.Rows != null))
                    {
                        using var delete = PostgresCommands.Create(connection, transaction, "DELETE FROM " + shared.Source);
                        await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                else if (!await IsEmptyAsync(connection, transaction, cancellationToken).ConfigureAwait(false))
                {
                    throw StoreBackup.NotEmpty(this);
                }

                await CopyRowsAsync(connection, rows, cancellationToken).ConfigureAwait(false);

                // Rows came with their sequence numbers; new rows must continue after them.
                using (var sequences = PostgresCommands.Create(connection, transaction,
                    "SELECT " + string.Join(", ", PortableSchema.Tables.Where(t => t.Identity != null).Select(t =>
                        $"setval(pg_get_serial_sequence('{t.Name}', '{t.Identity}'), coalesce((SELECT max({t.Identity}) FROM {t.Name}), 0) + 1, false)"))))
                {
                    await sequences.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                // Fresh planner statistics in the same transaction (ANALYZE counts its own transaction's rows), so the
                // first queries on a restored million-row store use its indexes instead of waiting for autovacuum.
                using (var analyze = PostgresCommands.Create(connection, transaction, "ANALYZE " + string.Join(", ", PortableSchema.Tables.Select(t => t.Name))))
                {
                    await analyze.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                return true;
            }, cancellationToken);

        /// <summary>
        /// Streams the rows into their tables with binary COPY, one COPY per run of rows of one table (a backup holds each
        /// table's rows together), so a million rows cost a few round trips instead of a million. When
        /// <paramref name="rows"/> throws (a backup found corrupt at its end), the open COPY is abandoned and the caller's
        /// transaction rolls everything back.
        /// </summary>
        private static async Task CopyRowsAsync(NpgsqlConnection connection, IEnumerable<KeyValuePair<PortableTable, object?[]>> rows, CancellationToken cancellationToken)
        {
            var types = await ReadColumnTypesAsync(connection, cancellationToken).ConfigureAwait(false);
            NpgsqlBinaryImporter? copy = null;
            PortableTable? table = null;
            NpgsqlDbType[] columnTypes = Array.Empty<NpgsqlDbType>();
            try
            {
                foreach (var pair in rows)
                {
                    if (!ReferenceEquals(pair.Key, table))
                    {
                        if (copy != null)
                        {
                            await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
                            copy.Dispose();
                            copy = null;
                        }

                        table = pair.Key;
                        columnTypes = table.Columns.Select(c => types.TryGetValue((table.Name, c.Name), out var type) ? type : TypeOf(c.Kind)).ToArray();
                        copy = await connection.BeginBinaryImportAsync(
                            "COPY " + table.Name + " (" + table.ColumnList + ") FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
                    }

                    await copy!.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    for (var i = 0; i < pair.Value.Length; i++)
                    {
                        var value = pair.Value[i];
                        if (value == null)
                        {
                            await copy.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                        }
                        else if (columnTypes[i] == NpgsqlDbType.Integer)
                        {
                            await copy.WriteAsync(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture), NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                        }
                        else
                        {
                            await copy.WriteAsync(value, columnTypes[i], cancellationToken).ConfigureAwait(false);
                        }
                    }
                }

                if (copy != null)
                {
                    await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                // Disposing a COPY that was not completed cancels it on the server.
                copy?.Dispose();
            }
        }

        /// <summary>
        /// The server's type of every column of the store's tables: binary COPY must send each value as exactly that type
        /// (a 32-bit integer column refuses a 64-bit value), while the portable format only knows integers.
        /// </summary>
        private static async Task<Dictionary<(string Table, string Column), NpgsqlDbType>> ReadColumnTypesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
        {
            var types = new Dictionary<(string, string), NpgsqlDbType>();
            using var command = PostgresCommands.Create(connection, null,
                "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()");
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var type = reader.GetString(2) switch
                {
                    "integer" => NpgsqlDbType.Integer,
                    "bigint" => NpgsqlDbType.Bigint,
                    "boolean" => NpgsqlDbType.Boolean,
                    "bytea" => NpgsqlDbType.Bytea,
                    _ => NpgsqlDbType.Text,
                };
                types[(reader.GetString(0), reader.GetString(1))] = type;
            }

            return types;
        }

        private static NpgsqlDbType TypeOf(PortableKind kind) => kind switch
        {
            PortableKind.Integer => NpgsqlDbType.Bigint,
            PortableKind.Boolean => NpgsqlDbType.Boolean,
            PortableKind.Bytes => NpgsqlDbType.Bytea,
            _ => NpgsqlDbType.Text,
        };

        private static async Task<bool> IsEmptyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
        {
            using var count = PostgresCommands.Create(connection, transaction, PortableSchema.NoRecordsQuery);
            return (bool)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
    }
}
