using System;
using Npgsql;

namespace ReleaseTools.Engine.Store.Postgres
{
    /// <summary>What PostgreSQL and Npgsql failures mean to someone running ReleaseTools, in words that never include a password.</summary>
    internal static class PostgresErrors
    {
        public static Exception Translate(Exception ex, string location)
        {
            if (ex is StoreException || ex is OperationCanceledException)
            {
                return ex;
            }

            if (ex is PostgresException server)
            {
                switch (server.SqlState)
                {
                    case PostgresErrorCodes.InvalidPassword:
                    case PostgresErrorCodes.InvalidAuthorizationSpecification:
                        return new StoreException(StoreErrorIds.StoreAccessDenied,
                            $"The PostgreSQL server refused the login to the store '{location}' ({server.MessageText}). Check the user name and the password " +
                            "(in the address, PGPASSWORD or a pgpass file) and that pg_hba.conf admits this machine.", location);
                    case PostgresErrorCodes.InvalidCatalogName:
                        return new StoreException(StoreErrorIds.StoreUnavailable,
                            $"The database of the store '{location}' does not exist ({server.MessageText}). Create it (createdb) or correct the address.", location);
                    case PostgresErrorCodes.InsufficientPrivilege:
                        return new StoreException(StoreErrorIds.StoreAccessDenied,
                            $"The PostgreSQL user of the store '{location}' lacks a privilege ({server.MessageText}). Grant it CREATE on the database " +
                            "(for the first open) and read/write on the store's schema.", location);
                    case PostgresErrorCodes.DiskFull:
                        // The statement (and its transaction) was rolled back whole: every earlier record is intact.
                        return new StoreException(StoreErrorIds.StoreFull,
                            $"The disk of the PostgreSQL server that holds the store '{location}' is full ({server.MessageText}), so the write was refused and undone whole: " +
                            "every earlier record is intact. Ask the server's administrator to free space on it, then run the command again.", location, ex);
                    case PostgresErrorCodes.ReadOnlySqlTransaction:
                        // A hot standby (the address points at a replica, or a failover is under way), or a database or server set to
                        // default_transaction_read_only: reads work, no write does.
                        return new StoreException(StoreErrorIds.StoreReadOnly,
                            $"The PostgreSQL server of the store '{location}' accepts no writes ({server.MessageText}): it is a read-only standby, or the database " +
                            "is set to read-only (default_transaction_read_only). The store was not changed. Point the store at the primary server, or have it made " +
                            "writable, then run the command again.", location, ex);
                }

                if (server.SqlState.StartsWith("53", StringComparison.Ordinal))
                {
                    // Class 53, insufficient resources: out of memory, too many connections, configuration limits.
                    return new StoreException(StoreErrorIds.StoreUnavailable,
                        $"The PostgreSQL server of the store '{location}' is short of resources ({server.SqlState} {server.MessageText}); nothing was changed. " +
                        "Try again later, or ask its administrator.", location, ex);
                }

                return new StoreException(StoreErrorIds.StoreUnavailable,
                    $"The PostgreSQL store '{location}' failed: {server.SqlState} {server.MessageText}", location);
            }

            // Connection failures: Npgsql's message names host and port only; keep our own wording anyway.
            var cause = ex.InnerException is System.Net.Sockets.SocketException socket ? socket.Message : ex.Message;
            return new StoreException(StoreErrorIds.StoreUnavailable,
                $"The PostgreSQL store '{location}' cannot be reached: {Redact(cause)} Check that the server runs and that this machine may connect to it.", location);
        }

        /// <summary>Npgsql messages do not carry the password; this guards against one that would quote a connection string.</summary>
        private static string Redact(string message)
        {
            var index = message.IndexOf("Password=", StringComparison.OrdinalIgnoreCase);
            return index < 0 ? message : message.Substring(0, index) + "Password=***";
        }
    }
}
