using System;
using System.Collections.Generic;
using System.Net;
using Npgsql;

namespace ReleaseTools.Engine.Store.Postgres
{
    /// <summary>
    /// A PostgreSQL store address as a user writes it: a <c>postgresql://user@host:port/database?search_path=schema</c>
    /// URL or an Npgsql connection string (<c>Host=db;Database=releases;Username=ops</c>). The password may be in
    /// either, or come from PGPASSWORD or a pgpass file as libpq does it; <see cref="Display"/> never contains it.
    /// </summary>
    public sealed class PostgresStoreAddress
    {
        private PostgresStoreAddress(NpgsqlConnectionStringBuilder builder, string schema)
        {
            Builder = builder;
            Schema = schema;
            Display = $"postgresql://{(string.IsNullOrEmpty(builder.Username) ? "" : Uri.EscapeDataString(builder.Username) + "@")}{builder.Host}" +
                $"{(builder.Port != NpgsqlConnection.DefaultPort ? ":" + builder.Port : "")}/{builder.Database} (schema {schema})";
        }

        /// <summary>What the store is called in messages: host, port, database and schema; never a password.</summary>
        public string Display { get; }

        /// <summary>The schema that holds the store's tables (first entry of Search Path, else releasetools).</summary>
        public string Schema { get; }

        internal NpgsqlConnectionStringBuilder Builder { get; }

        /// <summary>True for text that names a PostgreSQL store rather than a SQLite file path.</summary>
        public static bool Looks(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                return false;
            }

            var trimmed = text!.Trim();
            if (trimmed.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            // A connection string: key=value pairs with a Host (or Server) key. A file path never starts like that.
            foreach (var part in trimmed.Split(';'))
            {
                var equals = part.IndexOf('=');
                if (equals <= 0)
                {
                    continue;
                }

                var key = part.Substring(0, equals).Trim();
                if (key.Equals("Host", StringComparison.OrdinalIgnoreCase) || key.Equals("Server", StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Parses a URL or connection string; a malformed one raises a StoreException whose message leaves the password out.</summary>
        public static PostgresStoreAddress Parse(string text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                throw new ArgumentException("A PostgreSQL store address is required.", nameof(text));
            }

            var trimmed = text.Trim();
            NpgsqlConnectionStringBuilder builder;
            try
            {
                builder = trimmed.IndexOf("://", StringComparison.Ordinal) > 0 ? FromUrl(trimmed) : new NpgsqlConnectionStringBuilder(trimmed);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is FormatException || ex is UriFormatException || ex is KeyNotFoundException)
            {
                throw new StoreException(StoreErrorIds.StoreAddressInvalid,
                    "The PostgreSQL store address is not a valid postgresql:// URL or Npgsql connection string " +
                    "(for example postgresql://ops@db.example.com/releases or Host=db.example.com;Database=releases;Username=ops).");
            }

            if (string.IsNullOrEmpty(builder.Host))
            {
                throw new StoreException(StoreErrorIds.StoreAddressInvalid, "The PostgreSQL store address names no host. Add one, for example postgresql://ops@db.example.com/releases.");
            }

            if (string.IsNullOrEmpty(builder.Password))
            {
                // libpq's convention, which operators already use with psql; Npgsql reads pgpass files itself.
                var fromEnvironment = Environment.GetEnvironmentVariable("PGPASSWORD");
                if (!string.IsNullOrEmpty(fromEnvironment))
                {
                    builder.Password = fromEnvironment;
                }
            }

            var schema = PostgresMigrations.DefaultSchema;
            if (!string.IsNullOrWhiteSpace(builder.SearchPath))
            {
                schema = builder.SearchPath!.Split(',')[0].Trim().Trim('"');
            }

            builder.SearchPath = QuoteIdentifier(schema);
            builder.ApplicationName = string.IsNullOrEmpty(builder.ApplicationName) ? "ReleaseTools" : builder.ApplicationName;
            // Never let the password travel with the connection string once the connection is open.
            builder.PersistSecurityInfo = false;
            builder.IncludeErrorDetail = false;
            // The store sends the same few dozen statements all day: prepared once per pooled connection, the server
            // no longer parses and plans each one on every call, which halves the cost of a short write transaction.
            if (builder.MaxAutoPrepare == 0)
            {
                builder.MaxAutoPrepare = 64;
                builder.AutoPrepareMinUsages = 2;
            }

            // The store leaves no session state behind (no SET, temporary table or session advisory lock), so a
            // pooled connection needs no reset statements before its next use.
            builder.NoResetOnClose = true;
            return new PostgresStoreAddress(builder, schema);
        }

        public override string ToString() => Display;

        internal static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

        private static NpgsqlConnectionStringBuilder FromUrl(string url)
        {
            var uri = new Uri(url);
            if (!uri.Scheme.Equals("postgresql", StringComparison.OrdinalIgnoreCase) && !uri.Scheme.Equals("postgres", StringComparison.OrdinalIgnoreCase))
            {
                throw new FormatException("Not a postgresql URL.");
            }

            var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host };
            if (uri.Port > 0)
            {
                builder.Port = uri.Port;
            }

            var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
            if (!string.IsNullOrEmpty(database))
            {
                builder.Database = database;
            }

            if (!string.IsNullOrEmpty(uri.UserInfo))
            {
                var colon = uri.UserInfo.IndexOf(':');
                builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo.Substring(0, colon));
                if (colon >= 0)
                {
                    builder.Password = Uri.UnescapeDataString(uri.UserInfo.Substring(colon + 1));
                }
            }

            foreach (var pair in uri.Query.TrimStart('?').Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=');
                var key = WebUtility.UrlDecode(equals < 0 ? pair : pair.Substring(0, equals));
                var value = equals < 0 ? "" : WebUtility.UrlDecode(pair.Substring(equals + 1));
                switch (key.ToLowerInvariant())
                {
                    case "search_path":
                    case "schema":
                        builder.SearchPath = value;
                        break;
                    case "sslmode":
                        builder.SslMode = (SslMode)Enum.Parse(typeof(SslMode), value.Replace("-", ""), ignoreCase: true);
                        break;
                    case "application_name":
                        builder.ApplicationName = value;
                        break;
                    case "connect_timeout":
                        builder.Timeout = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                        break;
                    default:
                        // Anything else is an Npgsql keyword (Pooling, Maximum Pool Size, ...).
                        builder[key] = value;
                        break;
                }
            }

            return builder;
        }
    }
}
