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
