using System;
using Microsoft.Data.Sqlite;

namespace ReleaseTools.Engine.Store.Sqlite
{
    /// <summary>Puts the file in WAL mode and applies the pending <see cref="StoreMigrations"/>, each in its own IMMEDIATE transaction.</summary>
    internal static class StoreMigrator
    {
        public static void Migrate(SqliteConnection connection, string path, int targetVersion)
        {
            using (connection)
            {
                try
                {
                    Execute(connection, null, "PRAGMA journal_mode = WAL;");
                    if (IsCurrent(connection, targetVersion))
                    {
                        // The common case: no write lock needed just to open.
                        return;
                    }

                    foreach (var migration in StoreMigrations.All)
                    {
                        if (migration.Number > targetVersion)
                        {
                            break;
                        }

                        using var transaction = connection.BeginTransaction(deferred: false);
                        // Read inside the write lock: another process may have migrated (or stamped the file) since we looked.
                        var current = ScalarInt(connection, transaction, "PRAGMA user_version;");
                        var applicationId = ScalarInt(connection, transaction, "PRAGMA application_id;");
                        if (applicationId != 0 && applicationId != StoreMigrations.ApplicationId)
                        {
                            throw new StoreException(StoreErrorIds.StoreForeign,
                                $"The file '{path}' was claimed by another application while opening it; it is not a ReleaseTools store and was left untouched.", path);
                        }

                        if (current > StoreMigrations.LatestVersion)
                        {
                            throw new StoreException(StoreErrorIds.StoreNewerSchema,
                                $"The store '{path}' was upgraded by a newer release of ReleaseTools (schema {current}) while opening it. Update the ReleaseTools module.", path);
                        }

                        if (current >= migration.Number)
                        {
                            continue;
                        }

                        Execute(connection, transaction, migration.Sql);
                        // PRAGMA values cannot be bound as parameters; both are our own integers.
                        Execute(connection, transaction, $"PRAGMA application_id = {StoreMigrations.ApplicationId}; PRAGMA user_version = {migration.Number};");
                        transaction.Commit();
                    }
                }
                catch (SqliteException ex) when (StoreFileInspector.IsCorruption(ex))
                {
                    throw StoreFileInspector.Corrupt(path, $"SQLite reports: {ex.Message}", ex);
                }
                catch (SqliteException ex)
                {
                    throw new StoreException(StoreErrorIds.StoreUnavailable,
                        $"The store '{path}' could not be prepared: {ex.Message} Check that the folder is writable and that no other program holds the file.", path, ex);
                }
            }
        }

        private static bool IsCurrent(SqliteConnection connection, int targetVersion)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id);";
            using var reader = command.ExecuteReader();
            reader.Read();
            return reader.GetInt64(0) >= targetVersion && reader.GetInt64(1) == StoreMigrations.ApplicationId;
        }

        private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }

        private static long ScalarInt(SqliteConnection connection, SqliteTransaction transaction, string sql)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            return Convert.ToInt64(command.ExecuteScalar());
        }
    }
}
