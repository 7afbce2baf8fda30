using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using ReleaseTools.Engine.Store.Portable;

namespace ReleaseTools.Engine.Store.Sqlite
{
    // Backup and restore: every portable table read from one consistent copy, written back in one transaction.
    public sealed partial class SqliteReleaseStore : IPortableStore
    {
        string IPortableStore.Kind => "sqlite";

        int IPortableStore.SchemaVersion => StoreMigrations.LatestVersion;

        /// <summary>
        /// SQLite's online backup API copies the live file, page by page and consistent as of one moment, into a scratch
        /// file while runs keep writing; the portable rows are then read from that copy. The live store is held only for
        /// the page copy (about a second for a million history rows), not while the rows are compressed and hashed, so
        /// writers and WAL checkpoints are never kept waiting behind a long backup. The copy itself is never the backup:
        /// its pages only SQLite can read, and the portable rows restore into either store.
        /// </summary>
        async Task IPortableStore.ExportAsync(Action<PortableTable, object?[]> row, CancellationToken cancellationToken)
        {
            var copyPath = Path.Combine(Path.GetTempPath(), "releasetools-backup-" + Guid.NewGuid().ToString("N") + ".db");
            var copyConnectionString = new SqliteConnectionStringBuilder { DataSource = copyPath, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString();
            try
            {
                using (var live = OpenConnection())
                using (var copy = new SqliteConnection(copyConnectionString))
                {
                    copy.Open();
                    live.BackupDatabase(copy);
                }

                using (var copy = new SqliteConnection(copyConnectionString))
                {
                    copy.Open();
                    await PortableRows.ReadAllAsync(copy, null, row, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (SqliteException ex)
            {
                throw Translate(ex);
            }
            finally
            {
                foreach (var file in new[] { copyPath, copyPath + "-wal", copyPath + "-shm", copyPath + "-journal" })
                {
                    TryDelete(file);
                }
            }
        }

        private static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // A scratch copy in the temporary folder; the OS cleans that folder.
            }
        }

        Task<bool> IPortableStore.IsEmptyAsync(CancellationToken cancellationToken) =>
            ReadAsync(connection => IsEmptyAsync(connection, null, cancellationToken), cancellationToken);

        Task IPortableStore.ImportAsync(IEnumerable<KeyValuePair<PortableTable, object?[]>> rows, bool replace, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                if (replace)
                {
                    foreach (var table in PortableSchema.Tables.Select(t => t.Source).Concat(PortableSchema.LeaseTables))
                    {
                        using var delete = StoreCommands.Create(connection, transaction, "DELETE FROM " + table);
                        await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                else if (!await IsEmptyAsync(connection, transaction, cancellationToken).ConfigureAwait(false))
                {
                    throw StoreBackup.NotEmpty(this);
                }

                InsertRows(connection, transaction, rows, cancellationToken);
                return true;
            }, cancellationToken);

        /// <summary>
        /// Inserts the rows through one prepared single-row INSERT per table, re-bound by position, all in the caller's
        /// transaction: SQLite pays no round trip or commit per row, so this is its batch path. (Multi-row INSERT
        /// statements measured slower here: the provider binds every value by name, a lookup that grows with the
        /// number of values in the statement.)
        /// </summary>
        private static void InsertRows(SqliteConnection connection, SqliteTransaction transaction, IEnumerable<KeyValuePair<PortableTable, object?[]>> rows,
            CancellationToken cancellationToken)
        {
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
                        for (var i = 0; i < pair.Key.Columns.Count; i++)
                        {
                            insert.Parameters.Add(new SqliteParameter("$p" + i, DBNull.Value));
                        }

                        insert.Prepare();
                        inserts[pair.Key] = insert;
                    }

                    for (var i = 0; i < pair.Value.Length; i++)
                    {
                        var value = pair.Value[i];
                        insert.Parameters[i].Value = value is bool flag ? (flag ? 1L : 0L) : value ?? DBNull.Value;
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
        }

        private static async Task<bool> IsEmptyAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
        {
            using var count = StoreCommands.Create(connection, transaction, PortableSchema.NoRecordsQuery);
            return Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false)) != 0;
        }
    }
}
