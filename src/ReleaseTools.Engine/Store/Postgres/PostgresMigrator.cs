using System;
using System.Globalization;
using Npgsql;

namespace ReleaseTools.Engine.Store.Postgres
{
    /// <summary>
    /// Creates the store's schema when missing and applies pending <see cref="PostgresMigrations"/>. Several processes
    /// may open a new server at the same moment: each takes a transaction-scoped advisory lock keyed on the schema name
    /// before it looks, so one migrates and the others then find the schema current. The lock ends with the
    /// transaction, so a pooled connection never carries it into later work.
    /// </summary>
    internal static class PostgresMigrator
    {
        public static void Migrate(NpgsqlConnection connection, PostgresStoreAddress address, int targetVersion)
        {
            var location = address.Display;
            try
            {
                var current = ReadVersion(connection, null, address.Schema);
                if (current >= targetVersion)
                {
                    // The common case: no lock needed just to open.
                    RefuseNewer(current, location);
                    return;
                }

                using var transaction = connection.BeginTransaction();
                using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('releasetools.migrate.' || @schema))", connection, transaction))
                {
                    command.Parameters.AddWithValue("schema", address.Schema);
                    command.ExecuteNonQuery();
                }

                // Read again under the lock: another process may have migrated since we looked.
                current = ReadVersion(connection, transaction, address.Schema);
                RefuseNewer(current, location);
                if (current < 0)
                {
                    Execute(connection, transaction, "CREATE SCHEMA IF NOT EXISTS " + PostgresStoreAddress.QuoteIdentifier(address.Schema));
                    current = 0;
                }

                foreach (var migration in PostgresMigrations.All)
                {
                    if (migration.Number <= current || migration.Number > targetVersion)
                    {
                        continue;
                    }

                    Execute(connection, transaction, migration.Sql);
                    using var stamp = new NpgsqlCommand("UPDATE releasetools_store SET value = @version WHERE key = 'schema_version'", connection, transaction);
                    stamp.Parameters.AddWithValue("version", migration.Number.ToString(CultureInfo.InvariantCulture));
                    stamp.ExecuteNonQuery();
                }

                transaction.Commit();
            }
            catch (Exception ex) when (ex is NpgsqlException || ex is System.Net.Sockets.SocketException || ex is TimeoutException)
            {
                throw PostgresErrors.Translate(ex, location);
            }
        }

        /// <summary>The schema version, 0 for a schema without our marker table, -1 when the schema does not exist.</summary>
        internal static int ReadVersion(NpgsqlConnection connection, NpgsqlTransaction? transaction, string schema)
        {
            using var command = new NpgsqlCommand(
                "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = @schema), " +
                "(SELECT count(*) FROM pg_tables WHERE schemaname = @schema AND tablename = '" + PostgresMigrations.MarkerTable + "')",
                connection, transaction);
            command.Parameters.AddWithValue("schema", schema);
            long schemas;
            long markers;
            using (var reader = command.ExecuteReader())
            {
                reader.Read();
                schemas = reader.GetInt64(0);
                markers = reader.GetInt64(1);
            }

            if (schemas == 0)
            {
                return -1;
            }

            if (markers == 0)
            {
                return 0;
            }

            using var version = new NpgsqlCommand("SELECT value FROM releasetools_store WHERE key = 'schema_version'", connection, transaction);
            return int.Parse((string)version.ExecuteScalar()!, CultureInfo.InvariantCulture);
        }

        private static void RefuseNewer(int current, string location)
        {
            if (current > PostgresMigrations.LatestVersion)
            {
                throw new StoreException(StoreErrorIds.StoreNewerSchema,
                    $"The store '{location}' was written by a newer release of ReleaseTools (schema {current}; this release knows up to {PostgresMigrations.LatestVersion}). " +
                    "Update the ReleaseTools module on this machine; the store was not changed.", location);
            }
        }

        private static void Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
        {
            using var command = new NpgsqlCommand(sql, connection, transaction);
            command.ExecuteNonQuery();
        }
    }
}
