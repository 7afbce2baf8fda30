using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Sqlite
{
    // The instance registry. Instance ids, services and environments compare case-insensitively (COLLATE NOCASE),
    // as PowerShell users expect.
    public sealed partial class SqliteReleaseStore
    {
        private const string InstanceColumns = "instance_id, service, environment, host, port, tags, version, fversion, status, updated_at, agent_instance, use_https, agent_certificate";

        private const string UpsertInstanceSql =
            "INSERT INTO instances (" + InstanceColumns + ") VALUES ($id, $service, $environment, $host, $port, $tags, NULL, NULL, 'registered', $now, $agentInstance, $useHttps, $agentCertificate) " +
            "ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, environment = excluded.environment, host = excluded.host, " +
            "port = excluded.port, tags = excluded.tags, updated_at = excluded.updated_at, agent_instance = excluded.agent_instance, " +
            "use_https = excluded.use_https, agent_certificate = excluded.agent_certificate";

        public Task<InstanceRecord> RegisterInstanceAsync(InstanceRegistration registration, CancellationToken cancellationToken)
        {
            Validate(registration);
            return WriteAsync(async (connection, transaction) =>
            {
                using (var upsert = StoreCommands.Create(connection, transaction, UpsertInstanceSql))
                {
                    BindRegistration(upsert, registration, Now());
                    await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                return (await ReadInstanceAsync(connection, transaction, registration.InstanceId, cancellationToken).ConfigureAwait(false))!;
            }, cancellationToken);
        }

        /// <summary>All registrations in one transaction with one prepared statement: the fast path for bulk imports.</summary>
        public Task<int> RegisterInstancesAsync(IReadOnlyList<InstanceRegistration> registrations, CancellationToken cancellationToken)
        {
            if (registrations == null)
            {
                throw new ArgumentNullException(nameof(registrations));
            }

            foreach (var registration in registrations)
            {
                Validate(registration);
            }

            return WriteAsync((connection, transaction) =>
            {
                var now = Now();
                using var upsert = StoreCommands.Create(connection, transaction, UpsertInstanceSql);
                var count = 0;
                foreach (var registration in registrations)
                {
                    if ((count & 1023) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                    BindRegistration(upsert, registration, now);
                    count += upsert.ExecuteNonQuery();
                }

                return Task.FromResult(count);
            }, cancellationToken);
        }

        public Task<bool> UnregisterInstanceAsync(string instanceId, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                // History, targets and leases stay: they describe what happened, and a running deployment may still hold the lease.
                using var delete = StoreCommands.Create(connection, transaction, "DELETE FROM instances WHERE instance_id = $id").With("$id", instanceId);
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
                    "SELECT name FROM s WHERE name IS NOT NULL";
                await CollectStringsAsync(connection, registered, names, cancellationToken).ConfigureAwait(false);
                await CollectStringsAsync(connection, "SELECT DISTINCT service FROM service_versions", names, cancellationToken).ConfigureAwait(false);
                return names.ToList();
            }, cancellationToken);

        public Task<IReadOnlyList<string>> GetVersionsAsync(string? service, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<string>>(async connection =>
            {
                using var command = string.IsNullOrEmpty(service)
                    ? StoreCommands.Create(connection, null, "SELECT DISTINCT version FROM service_versions")
                    : StoreCommands.Create(connection, null, "SELECT version FROM service_versions WHERE service = $service").With("$service", service);
                var versions = await command.ToListAsync(r => r.GetString(0), cancellationToken).ConfigureAwait(false);
                return versions.OrderBy(v => v, StringComparer.Ordinal).ToList();
            }, cancellationToken);

        public Task SetInstanceStatusAsync(string instanceId, InstanceStatus status, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                using var update = StoreCommands.Create(connection, transaction, "UPDATE instances SET status = $status, updated_at = $now WHERE instance_id = $id")
                    .With("$status", StoreValues.ToText(status)).With("$now", StoreValues.ToUnixMs(Now())).With("$id", instanceId);
                if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw InstanceNotFound(instanceId);
                }

                return true;
            }, cancellationToken);

        /// <summary>The filter as SQL; internal so tests can check its query plan uses the indexes.</summary>
        internal static SqliteCommand BuildInstanceQuery(SqliteConnection connection, InstanceQuery query)
        {
            var sql = new StringBuilder("SELECT " + InstanceColumns + " FROM instances WHERE 1 = 1");
            var command = connection.CreateCommand();
            AddListFilter(sql, command, "service", "$services", query.Services);
            // With a service filter, "+environment" keeps SQLite (which has no statistics to choose by) on the service index:
            // a service's instances are a few hundred, an environment's can be half the registry. The unary + keeps NOCASE.
            AddListFilter(sql, command, query.Services != null ? "+environment" : "environment", "$environments", query.Environments);
            AddListFilter(sql, command, "instance_id", "$ids", query.InstanceIds);
            if (query.Version != null)
            {
                sql.Append(" AND version = $version");
                command.With("$version", query.Version);
            }

            sql.Append(" ORDER BY service, instance_id");
            command.CommandText = sql.ToString();
            return command;
        }

        private static void AddListFilter(StringBuilder sql, SqliteCommand command, string column, string parameter, IReadOnlyList<string>? values)
        {
            if (values == null)
            {
                return;
            }

            if (values.Count == 1)
            {
                sql.Append(" AND ").Append(column).Append(" = ").Append(parameter);
                command.With(parameter, values[0]);
            }
            else
            {
                sql.Append(" AND ").Append(column).Append(" IN (SELECT value FROM json_each(").Append(parameter).Append("))");
                command.With(parameter, StoreCommands.JsonList(values));
            }
        }

        private static async Task CollectStringsAsync(SqliteConnection connection, string sql, ISet<string> into, CancellationToken cancellationToken)
        {
            using var command = StoreCommands.Create(connection, null, sql);
            into.UnionWith(await command.ToListAsync(r => r.GetString(0), cancellationToken).ConfigureAwait(false));
        }

        private static async Task<InstanceRecord?> ReadInstanceAsync(SqliteConnection connection, SqliteTransaction? transaction, string instanceId, CancellationToken cancellationToken)
        {
            using var command = StoreCommands.Create(connection, transaction, "SELECT " + InstanceColumns + " FROM instances WHERE instance_id = $id").With("$id", instanceId);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadInstance(reader) : null;
        }

        private static void BindRegistration(SqliteCommand command, InstanceRegistration registration, DateTimeOffset now) =>
            command.With("$id", registration.InstanceId)
                .With("$service", registration.Service)
                .With("$environment", registration.Environment ?? "")
                .With("$host", registration.Host ?? "")
                .With("$port", registration.Port)
                .With("$tags", JsonSerializer.Serialize(registration.Tags ?? Array.Empty<string>()))
                .With("$now", StoreValues.ToUnixMs(now))
                .With("$agentInstance", registration.AgentInstance)
                .With("$useHttps", registration.UseHttps ? 1 : 0)
                .With("$agentCertificate", registration.AgentCertificate);

        private static void Validate(InstanceRegistration registration) => StoreValidation.Validate(registration);

        private StoreException InstanceNotFound(string instanceId) =>
            new StoreException(StoreErrorIds.InstanceNotFound,
                $"Instance '{instanceId}' is not registered in the store '{Location}'. Register it first (Register-ServiceInstance), or check the id.", Location);
    }
}
