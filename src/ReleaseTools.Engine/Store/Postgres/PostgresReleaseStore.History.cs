using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Postgres
{
    // Releases reaching instances, their version history, and the config snapshots needed to roll back to them.
    public sealed partial class PostgresReleaseStore
    {
        private const string HistoryColumns =
            "sequence, instance_id, service, environment, version, fversion, previous_version, previous_fversion, deployment_id, operation, " +
            "package_url, package_md5, config_digest, config_file_name, recorded_at, outcome, failed_check";

        /// <summary>Only rows of releases the instance ran: a reverted attempt is never current, previous or a release to go back to.</summary>
        private const string ReleasedOnly = " AND outcome = 'released'";

        private const string InsertHistorySql =
            "INSERT INTO version_history (instance_id, service, environment, version, fversion, previous_version, previous_fversion, deployment_id, " +
            "operation, package_url, package_md5, config_digest, config_file_name, recorded_at, outcome, failed_check) VALUES (@instance, @service, @environment, " +
            "@version, @fversion, @previousVersion, @previousFVersion, @deployment, @operation, @url, @md5, @digest, @file, @now, @outcome, @failedCheck)";

        private const string CatalogueVersionSql = "INSERT INTO service_versions (service, version) VALUES (@service, @version) ON CONFLICT DO NOTHING";

        public Task RecordReleaseAsync(ReleaseOutcome outcome, CancellationToken cancellationToken) =>
            RecordReleasesAsync(new[] { outcome ?? throw new ArgumentNullException(nameof(outcome)) }, cancellationToken);

        /// <summary>Several outcomes in one transaction: the batch form of <see cref="RecordReleaseAsync"/>, all or none written.</summary>
        public Task RecordReleasesAsync(IReadOnlyList<ReleaseOutcome> outcomes, CancellationToken cancellationToken) =>
            WriteTargetsAsync((outcomes ?? throw new ArgumentNullException(nameof(outcomes))).Select(TargetWrite.Of).ToList(), cancellationToken);

        /// <summary>
        /// Appends history rows as given (their Sequence is assigned here), without touching instances or targets: for
        /// bringing in history kept elsewhere, and for building large stores in tests and benchmarks.
        /// </summary>
        public Task<int> ImportHistoryAsync(IReadOnlyList<VersionHistoryRecord> records, CancellationToken cancellationToken)
        {
            if (records == null)
            {
                throw new ArgumentNullException(nameof(records));
            }

            return WriteAsync(async (connection, transaction) =>
            {
                using (var importer = await connection.BeginBinaryImportAsync(
                    "COPY version_history (instance_id, service, environment, version, fversion, previous_version, previous_fversion, deployment_id, " +
                    "operation, package_url, package_md5, config_digest, config_file_name, recorded_at, outcome, failed_check) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
                {
                    foreach (var record in records)
                    {
                        await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(record.InstanceId, NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(record.Service ?? "", NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(record.Environment ?? "", NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(record.Version ?? "", NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(record.FVersion ?? "", NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToDb(record.PreviousVersion), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToDb(record.PreviousFVersion), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(record.DeploymentId ?? "", NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToText(record.Operation), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToDb(record.PackageUrl), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToDb(record.PackageMd5), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToDb(record.ConfigDigest), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToDb(record.ConfigFileName), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToUnixMs(record.RecordedAt), NpgsqlTypes.NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToText(record.Outcome), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(StoreValues.ToDb(record.FailedCheck), NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    }

                    await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
                }

                using (var catalogue = PostgresCommands.Create(connection, transaction,
                    "INSERT INTO service_versions (service, version) SELECT DISTINCT s, v FROM unnest(@services, @versions) AS t(s, v) ON CONFLICT DO NOTHING"))
                {
                    var services = new List<string>(records.Count);
                    var versions = new List<string>(records.Count);
                    foreach (var record in records.Where(r => r.Outcome == HistoryOutcome.Released))
                    {
                        services.Add(record.Service ?? "");
                        versions.Add(record.Version ?? "");
                    }

                    await catalogue.WithList("services", services).WithList("versions", versions).ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                return records.Count;
            }, cancellationToken);
        }

        public Task<IReadOnlyList<VersionHistoryRecord>> GetHistoryAsync(string instanceId, int limit, CancellationToken cancellationToken) =>
            ReadHistoryAsync(instanceId, limit, includeReverted: false, cancellationToken);

        public Task<IReadOnlyList<VersionHistoryRecord>> GetHistoryIncludingRevertedAsync(string instanceId, int limit, CancellationToken cancellationToken) =>
            ReadHistoryAsync(instanceId, limit, includeReverted: true, cancellationToken);

        private Task<IReadOnlyList<VersionHistoryRecord>> ReadHistoryAsync(string instanceId, int limit, bool includeReverted, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<VersionHistoryRecord>>(async connection =>
            {
                using var command = BuildHistoryQuery(connection, instanceId, limit, includeReverted);
                return await command.ToListAsync(ReadHistory, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        public Task RecordRevertedAsync(DeploymentTargetRecord target, RevertedAttempt attempt, CancellationToken cancellationToken)
        {
            if (target == null)
            {
                throw new ArgumentNullException(nameof(target));
            }

            if (attempt == null)
            {
                throw new ArgumentNullException(nameof(attempt));
            }

            return WriteAsync(async (connection, transaction) =>
            {
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                await WriteTargetAsync(connection, transaction, target, cancellationToken).ConfigureAwait(false);
                string? version;
                string? fversion;
                string service;
                string environment;
                // Locks the instance row, as a release does, so a concurrent release cannot slip between the read and the row.
                using (var read = PostgresCommands.Create(connection, transaction,
                    "SELECT version, fversion, service, environment FROM instances WHERE instance_id = @instance FOR UPDATE").With("instance", target.InstanceId))
                using (var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        // After the target write on purpose: the transaction undoes it.
                        throw StoreValidation.InstanceNotFound(target.InstanceId, Location);
                    }

                    version = reader.NullableString(0);
                    fversion = reader.NullableString(1);
                    service = reader.GetString(2);
                    environment = reader.GetString(3);
                }

                using var insert = PostgresCommands.Create(connection, transaction, InsertHistorySql);
                await BindHistory(insert, target.InstanceId, service, environment, attempt.Version, attempt.FVersion, version, fversion, target.DeploymentId,
                    attempt.Operation, attempt.PackageUrl, attempt.PackageMd5, attempt.ConfigDigest, attempt.ConfigFileName, now, HistoryOutcome.Reverted,
                    attempt.FailedCheck).ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken);
        }

        public Task<IReadOnlyList<VersionHistoryRecord>> FindHistoryAsync(HistoryQuery query, CancellationToken cancellationToken)
        {
            if (query == null)
            {
                throw new ArgumentNullException(nameof(query));
            }

            return ReadAsync<IReadOnlyList<VersionHistoryRecord>>(async connection =>
            {
                using var command = BuildServiceHistoryQuery(connection, query);
                return await command.ToListAsync(ReadHistory, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);
        }

        /// <summary>A service's history across instances, newest first; internal so tests can check its query plan.</summary>
        internal static NpgsqlCommand BuildServiceHistoryQuery(NpgsqlConnection connection, HistoryQuery query)
        {
            var sql = new System.Text.StringBuilder("SELECT " + HistoryColumns + " FROM version_history WHERE service = @service" + ReleasedOnly);
            var command = connection.CreateCommand().With("service", query.Service ?? "");
            if (query.Environment != null)
            {
                sql.Append(" AND environment = @environment");
                command.With("environment", query.Environment);
            }

            if (query.Version != null)
            {
                sql.Append(" AND version = @version");
                command.With("version", query.Version);
            }

            sql.Append(" ORDER BY sequence DESC");
            if (query.Limit > 0)
            {
                sql.Append(" LIMIT @limit");
                command.With("limit", query.Limit);
            }

            command.CommandText = sql.ToString();
            return command;
        }

        public Task SaveConfigSnapshotAsync(string digest, string fileName, byte[] content, CancellationToken cancellationToken)
        {
            if (string.IsNullOrEmpty(digest))
            {
                throw new ArgumentException("A config snapshot needs its digest.", nameof(digest));
            }

            if (content == null)
            {
                throw new ArgumentNullException(nameof(content));
            }

            return WriteAsync(async (connection, transaction) =>
            {
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                // The digest names the bytes, so a second save of the same digest has nothing new to say.
                using var insert = PostgresCommands.Create(connection, transaction,
                    "INSERT INTO config_snapshots (digest, file_name, content, saved_at) VALUES (@digest, @file, @content, @now) ON CONFLICT (digest) DO NOTHING")
                    .With("digest", digest).With("file", fileName ?? "").With("content", content).With("now", StoreValues.ToUnixMs(now));
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken);
        }

        public Task<byte[]?> GetConfigSnapshotAsync(string digest, CancellationToken cancellationToken) =>
            ReadAsync(async connection =>
            {
                using var command = PostgresCommands.Create(connection, null, "SELECT content FROM config_snapshots WHERE digest = @digest").With("digest", digest);
                return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as byte[];
            }, cancellationToken);

        /// <summary>One instance's history, newest first; internal so tests can check its query plan.</summary>
        internal static NpgsqlCommand BuildHistoryQuery(NpgsqlConnection connection, string instanceId, int limit, bool includeReverted = false)
        {
            var command = PostgresCommands.Create(connection, null,
                "SELECT " + HistoryColumns + " FROM version_history WHERE instance_id = @id" + (includeReverted ? "" : ReleasedOnly) +
                " ORDER BY sequence DESC" + (limit > 0 ? " LIMIT @limit" : ""))
                .With("id", instanceId);
            return limit > 0 ? command.With("limit", limit) : command;
        }

        private async Task WriteReleaseAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ReleaseOutcome outcome, DateTimeOffset now, CancellationToken cancellationToken)
        {
            // Two round trips per release, each one command of two statements that the server runs in order: the target
            // and the instance, then the history row and the version catalogue. from_version keeps what the engine learnt
            // from the Floyd agent (the outcome's, else what the target said); the registry's view (read before the instance moves) only fills a gap.
            string? previousVersion;
            string? previousFVersion;
            string service;
            string environment;
            using (var release = PostgresCommands.Create(connection, transaction,
                WithCountersAdjusted("@status", "@deployment", "@instance") +
                "UPDATE deployment_targets SET status = @status, attempts = @attempts, package_transferred = @package, config_transferred = @config, " +
                "started_at = coalesce(@started, started_at), ended_at = @ended, failed_step = NULL, error = NULL, " +
                "from_version = coalesce(@fromVersion, from_version, (SELECT version FROM instances WHERE instance_id = @instance)), " +
                "from_fversion = coalesce(@fromFVersion, from_fversion, (SELECT fversion FROM instances WHERE instance_id = @instance)) " +
                "WHERE deployment_id = @deployment AND instance_id = @instance RETURNING 1; " +
                // Locks the instance row (FOR UPDATE) so two releases of one instance cannot both read the same previous version.
                "UPDATE instances AS i SET version = @version, fversion = @fversion, status = 'active', updated_at = @now " +
                "FROM (SELECT instance_id, version, fversion FROM instances WHERE instance_id = @instance FOR UPDATE) AS previous " +
                "WHERE i.instance_id = previous.instance_id RETURNING previous.version, previous.fversion, i.service, i.environment"))
            {
                release.With("status", StoreValues.ToText(outcome.TargetStatus))
                    .With("attempts", outcome.Attempts)
                    .With("package", outcome.PackageTransferred)
                    .With("config", outcome.ConfigTransferred)
                    .With("ended", StoreValues.ToUnixMs(outcome.EndedAt == default ? now : outcome.EndedAt))
                    .With("deployment", outcome.DeploymentId)
                    .With("instance", outcome.InstanceId)
                    .With("version", outcome.Version)
                    .With("fversion", outcome.FVersion)
                    .With("now", StoreValues.ToUnixMs(now));
                release.Parameters.Add(new NpgsqlParameter("started", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = StoreValues.ToDb(outcome.StartedAt) });
                release.Parameters.Add(new NpgsqlParameter("fromVersion", NpgsqlTypes.NpgsqlDbType.Text) { Value = StoreValues.ToDb(outcome.FromVersion) });
                release.Parameters.Add(new NpgsqlParameter("fromFVersion", NpgsqlTypes.NpgsqlDbType.Text) { Value = StoreValues.ToDb(outcome.FromFVersion) });
                using var reader = await release.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    throw StoreValidation.TargetNotFound(outcome.DeploymentId, outcome.InstanceId, Location);
                }

                if (!await reader.NextResultAsync(cancellationToken).ConfigureAwait(false) || !await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    // The target was already written in this transaction: it must undo that, never leave half a release.
                    throw StoreValidation.InstanceNotFound(outcome.InstanceId, Location);
                }

                previousVersion = reader.NullableString(0);
                previousFVersion = reader.NullableString(1);
                service = reader.GetString(2);
                environment = reader.GetString(3);
            }

            if (outcome.TargetStatus == TargetStatus.Unchanged && string.Equals(previousFVersion, outcome.FVersion, StringComparison.Ordinal))
            {
                // Nothing moved: the instance already ran this release, and the store knew it, so history gains no row. An agent
                // found on the release while the store says otherwise (its activation was not recorded: a full disk, a killed
                // client) did move: that gets its row, or history and rollback would go on from a release it no longer runs.
                return;
            }

            // The catalogue statement takes the history row's own @service and @version.
            using (var insertHistory = PostgresCommands.Create(connection, transaction, InsertHistorySql + "; " + CatalogueVersionSql))
            {
                await BindHistory(insertHistory, outcome.InstanceId, service, environment, outcome.Version, outcome.FVersion, previousVersion, previousFVersion,
                    outcome.DeploymentId, outcome.Operation, outcome.PackageUrl, outcome.PackageMd5, outcome.ConfigDigest, outcome.ConfigFileName, now)
                    .ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        private static NpgsqlCommand BindHistory(NpgsqlCommand command, string instanceId, string service, string environment, string version, string fversion,
            string? previousVersion, string? previousFVersion, string deploymentId, DeploymentOperation operation, string? packageUrl, string? packageMd5,
            string? configDigest, string? configFileName, DateTimeOffset recordedAt, HistoryOutcome outcome = HistoryOutcome.Released, string? failedCheck = null)
        {
            command.With("instance", instanceId)
                .With("service", service ?? "")
                .With("environment", environment ?? "")
                .With("version", version ?? "")
                .With("fversion", fversion ?? "")
                .With("deployment", deploymentId ?? "")
                .With("operation", StoreValues.ToText(operation))
                .With("now", StoreValues.ToUnixMs(recordedAt))
                .With("outcome", StoreValues.ToText(outcome));
            foreach (var (name, value) in new[] { ("previousVersion", previousVersion), ("previousFVersion", previousFVersion), ("url", packageUrl),
                ("md5", packageMd5), ("digest", configDigest), ("file", configFileName), ("failedCheck", failedCheck) })
            {
                command.Parameters.Add(new NpgsqlParameter(name, NpgsqlTypes.NpgsqlDbType.Text) { Value = StoreValues.ToDb(value) });
            }

            return command;
        }
    }
}
