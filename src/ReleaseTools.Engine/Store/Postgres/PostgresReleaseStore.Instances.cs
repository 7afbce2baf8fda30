using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Postgres
{
    // The instance registry. Instance ids, services and environments compare case-insensitively (the
    // releasetools_nocase collation), as PowerShell users expect and as the SQLite store does.
    public sealed partial class PostgresReleaseStore
    {
        private const string InstanceColumns = "instance_id, service, environment, host, port, tags, version, fversion, status, updated_at, agent_instance, use_https, agent_certificate";

        private const string UpsertInstanceSql =
            "INSERT INTO instances (" + InstanceColumns + ") VALUES (@id, @service, @environment, @host, @port, @tags, NULL, NULL, 'registered', @now, @agentInstance, @useHttps, @agentCertificate) " +
            "ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, environment = excluded.environment, host = excluded.host, " +
            "port = excluded.port, tags = excluded.tags, updated_at = excluded.updated_at, agent_instance = excluded.agent_instance, " +
            "use_https = excluded.use_https, agent_certificate = excluded.agent_certificate";

        // One statement for a whole chunk: the rows travel as arrays and unnest() turns them back into rows.
        private const string BulkUpsertInstanceSql =
            "INSERT INTO instances (" + InstanceColumns + ") " +
            "SELECT id, service, environment, host, port, tags, NULL, NULL, 'registered', @now, agent_instance, use_https, agent_certificate " +
            "FROM unnest(@ids, @services, @environments, @hosts, @ports, @tags, @agentInstances, @useHttps, @agentCertificates) " +
            "AS r(id, service, environment, host, port, tags, agent_instance, use_https, agent_certificate) " +
            "ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, environment = excluded.environment, host = excluded.host, " +
            "port = excluded.port, tags = excluded.tags, updated_at = excluded.updated_at, agent_instance = excluded.agent_instance, " +
            "use_https = excluded.use_https, agent_certificate = excluded.agent_certificate";

        public Task<InstanceRecord> RegisterInstanceAsync(InstanceRegistration registration, CancellationToken cancellationToken)
        {
            StoreValidation.Validate(registration);
            return WriteAsync(async (connection, transaction) =>
            {
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                using (var upsert = PostgresCommands.Create(connection, transaction, UpsertInstanceSql))
                {
                    BindRegistration(upsert, registration, now);
                    await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                return (await ReadInstanceAsync(connection, transaction, registration.InstanceId, cancellationToken).ConfigureAwait(false))!;
            }, cancellationToken);
        }

        /// <summary>All registrations in one transaction, sent in batches of statements: the fast path for bulk imports.</summary>
        public Task<int> RegisterInstancesAsync(IReadOnlyList<InstanceRegistration> registrations, CancellationToken cancellationToken)
        {
            if (registrations == null)
            {
                throw new ArgumentNullException(nameof(registrations));
            }

            foreach (var registration in registrations)
            {
                StoreValidation.Validate(registration);
            }

            return WriteAsync(async (connection, transaction) =>
            {
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                var count = 0;
                foreach (var chunk in Chunks(registrations, 5000))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    // A chunk must not name one instance twice (ON CONFLICT touches a row once per statement): the last registration wins, as it would one by one.
                    var last = new Dictionary<string, InstanceRegistration>(StringComparer.OrdinalIgnoreCase);
                    foreach (var registration in chunk)
                    {
                        last[registration.InstanceId] = registration;
                    }

                    var rows = last.Values.ToList();
                    using var upsert = PostgresCommands.Create(connection, transaction, BulkUpsertInstanceSql)
                        .WithList("ids", rows.Select(r => r.InstanceId))
                        .WithList("services", rows.Select(r => r.Service))
                        .WithList("environments", rows.Select(r => r.Environment ?? ""))
                        .WithList("hosts", rows.Select(r => r.Host ?? ""))
                        .WithList("tags", rows.Select(r => JsonSerializer.Serialize(r.Tags ?? Array.Empty<string>())))
                        .With("ports", rows.Select(r => r.Port).ToArray())
                        .WithList("agentInstances", rows.Select(r => r.AgentInstance!))
                        .With("useHttps", rows.Select(r => r.UseHttps).ToArray())
                        .WithList("agentCertificates", rows.Select(r => r.AgentCertificate!))
                        .With("now", StoreValues.ToUnixMs(now));
                    await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    count += chunk.Count;
                }

                return count;
            }, cancellationToken);
        }

        public Task<bool> UnregisterInstanceAsync(string instanceId, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                // History, targets and leases stay: they describe what happened, and a running deployment may still hold the lease.
                using var delete = PostgresCommands.Create(connection, transaction, "DELETE FROM instances WHERE instance_id = @id").With("id", instanceId);
                return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
            }, cancellationToken);

        public Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken) =>
            ReadAsync(connection => ReadInstanceAsync(connection, null, instanceId, cancellationToken), cancellationToken);

        public Task<IReadOnlyList<InstanceRecord>> FindInstancesAsync(InstanceQuery query, CancellationToken cancellationToken)
        {
            if (query == null)
            {
                throw new ArgumentNullException(nameof(query));
            }

            return ReadAsync<IReadOnlyList<InstanceRecord>>(async connection =>
            {
                using var command = BuildInstanceQuery(connection, query);
                return await command.ToListAsync(ReadInstance, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);
        }

        public Task<IReadOnlyList<string>> GetServiceNamesAsync(CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<string>>(async connection =>
            {
                var names = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
                // A loose index scan: one index seek per distinct service instead of walking every instance.
                const string registered =
                    "WITH RECURSIVE s(name) AS (SELECT (SELECT min(service) FROM instances) " +
                    "UNION ALL SELECT (SELECT min(service) FROM instances WHERE service > s.name) FROM s WHERE s.name IS NOT NULL) " +
                    "SELECT name FROM s WHERE name IS NOT NULL " +
                    "UNION SELECT DISTINCT service FROM service_versions";
                using var command = PostgresCommands.Create(connection, null, registered);
                names.UnionWith(await command.ToListAsync(r => r.GetString(0), cancellationToken).ConfigureAwait(false));
                return names.ToList();
            }, cancellationToken);

        public Task<IReadOnlyList<string>> GetVersionsAsync(string? service, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<string>>(async connection =>
            {
                using var command = string.IsNullOrEmpty(service)
                    ? PostgresCommands.Create(connection, null, "SELECT DISTINCT version FROM service_versions")
                    : PostgresCommands.Create(connection, null, "SELECT version FROM service_versions WHERE service = @service").With("service", service);
                var versions = await command.ToListAsync(r => r.GetString(0), cancellationToken).ConfigureAwait(false);
                return versions.OrderBy(v => v, StringComparer.Ordinal).ToList();
            }, cancellationToken);

        public Task SetInstanceStatusAsync(string instanceId, InstanceStatus status, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                using var update = PostgresCommands.Create(connection, transaction, "UPDATE instances SET status = @status, updated_at = @now WHERE instance_id = @id")
                    .With("status", StoreValues.ToText(status)).With("now", StoreValues.ToUnixMs(now)).With("id", instanceId);
                if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw StoreValidation.InstanceNotFound(instanceId, Location);
                }

                return true;
            }, cancellationToken);

        /// <summary>The filter as SQL; internal so tests can check its query plan uses the indexes.</summary>
        internal static NpgsqlCommand BuildInstanceQuery(NpgsqlConnection connection, InstanceQuery query)
        {
            var sql = new StringBuilder("SELECT " + InstanceColumns + " FROM instances WHERE true");
            var command = connection.CreateCommand();
            AddListFilter(sql, command, "service", "services", query.Services);
            AddListFilter(sql, command, "environment", "environments", query.Environments);
            AddListFilter(sql, command, "instance_id", "ids", query.InstanceIds);
            if (query.Version != null)
            {
                sql.Append(" AND version = @version");
                command.With("version", query.Version);
            }

            sql.Append(" ORDER BY service, instance_id");
            command.CommandText = sql.ToString();
            return command;
        }

        private static void AddListFilter(StringBuilder sql, NpgsqlCommand command, string column, string parameter, IReadOnlyList<string>? values)
        {
            if (values == null)
            {
                return;
            }

            if (values.Count == 1)
            {
                sql.Append(" AND ").Append(column).Append(" = @").Append(parameter);
                command.With(parameter, values[0]);
            }
            else
            {
                sql.Append(" AND ").Append(column).Append(" = ANY(@").Append(parameter).Append(')');
                command.WithList(parameter, values);
            }
        }

        private static async Task<InstanceRecord?> ReadInstanceAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string instanceId, CancellationToken cancellationToken)
        {
            using var command = PostgresCommands.Create(connection, transaction, "SELECT " + InstanceColumns + " FROM instances WHERE instance_id = @id").With("id", instanceId);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadInstance(reader) : null;
        }

        private static void BindRegistration(NpgsqlCommand command, InstanceRegistration registration, DateTimeOffset now) =>
            command.With("id", registration.InstanceId)
                .With("service", registration.Service)
                .With("environment", registration.Environment ?? "")
                .With("host", registration.Host ?? "")
                .With("port", registration.Port)
                .With("tags", JsonSerializer.Serialize(registration.Tags ?? Array.Empty<string>()))
                .With("now", StoreValues.ToUnixMs(now))
                .With("agentInstance", registration.AgentInstance)
                .With("useHttps", registration.UseHttps)
                .With("agentCertificate", registration.AgentCertificate);

        private static IEnumerable<List<T>> Chunks<T>(IReadOnlyList<T> items, int size)
        {
            for (var start = 0; start < items.Count; start += size)
            {
                var chunk = new List<T>(Math.Min(size, items.Count - start));
                for (var i = start; i < items.Count && i < start + size; i++)
                {
                    chunk.Add(items[i]);
                }

                yield return chunk;
            }
        }
    }
}
