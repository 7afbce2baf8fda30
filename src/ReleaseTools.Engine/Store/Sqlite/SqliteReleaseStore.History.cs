using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Sqlite
{
    // Releases reaching instances, their version history, and the config snapshots needed to roll back to them.
    public sealed partial class SqliteReleaseStore
    {
        private const string HistoryColumns =
            "sequence, instance_id, service, environment, version, fversion, previous_version, previous_fversion, deployment_id, operation, " +
            "package_url, package_md5, config_digest, config_file_name, recorded_at, outcome, failed_check";

        /// <summary>Only rows of releases the instance ran: a reverted attempt is never current, previous or a release to go back to.</summary>
        private const string ReleasedOnly = " AND outcome = 'released'";

        private const string InsertHistorySql =
            "INSERT INTO version_history (instance_id, service, environment, version, fversion, previous_version, previous_fversion, deployment_id, " +
            "operation, package_url, package_md5, config_digest, config_file_name, recorded_at, outcome, failed_check) VALUES ($instance, $service, $environment, " +
            "$version, $fversion, $previousVersion, $previousFVersion, $deployment, $operation, $url, $md5, $digest, $file, $now, $outcome, $failedCheck)";

        private const string CatalogueVersionSql = "INSERT OR IGNORE INTO service_versions (service, version) VALUES ($service, $version)";

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

            return WriteAsync((connection, transaction) =>
            {
                using var insert = StoreCommands.Create(connection, transaction, InsertHistorySql);
                using var catalogue = StoreCommands.Create(connection, transaction, CatalogueVersionSql);
                var count = 0;
                foreach (var record in records)
                {
                    if ((count & 1023) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                    BindHistory(insert, record.InstanceId, record.Service, record.Environment, record.Version, record.FVersion, record.PreviousVersion,
                        record.PreviousFVersion, record.DeploymentId, record.Operation, record.PackageUrl, record.PackageMd5, record.ConfigDigest,
                        record.ConfigFileName, record.RecordedAt, record.Outcome, record.FailedCheck);
                    count += insert.ExecuteNonQuery();
                    if (record.Outcome == HistoryOutcome.Released)
                    {
                        catalogue.With("$service", record.Service).With("$version", record.Version).ExecuteNonQuery();
                    }
                }

                return Task.FromResult(count);
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
                using (var states = new TargetStateWriter(this, connection, transaction))
                {
                    states.Write(target);
                }

                string? version;
                string? fversion;
                string service;
                string environment;
                using (var read = StoreCommands.Create(connection, transaction,
                    "SELECT version, fversion, service, environment FROM instances WHERE instance_id = $instance").With("$instance", target.InstanceId))
                using (var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        // After the target write on purpose: the transaction undoes it.
                        throw InstanceNotFound(target.InstanceId);
                    }

                    version = reader.NullableString(0);
                    fversion = reader.NullableString(1);
                    service = reader.GetString(2);
                    environment = reader.GetString(3);
                }

                using var insert = StoreCommands.Create(connection, transaction, InsertHistorySql);
                BindHistory(insert, target.InstanceId, service, environment, attempt.Version, attempt.FVersion, version, fversion, target.DeploymentId,
                    attempt.Operation, attempt.PackageUrl, attempt.PackageMd5, attempt.ConfigDigest, attempt.ConfigFileName, Now(), HistoryOutcome.Reverted,
                    attempt.FailedCheck);
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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
        internal static SqliteCommand BuildServiceHistoryQuery(SqliteConnection connection, HistoryQuery query)
        {
            var sql = new System.Text.StringBuilder("SELECT " + HistoryColumns + " FROM version_history WHERE service = $service" + ReleasedOnly);
            var command = connection.CreateCommand().With("$service", query.Service ?? "");
            if (query.Environment != null)
            {
                sql.Append(" AND environment = $environment COLLATE NOCASE");
                command.With("$environment", query.Environment);
            }

            if (query.Version != null)
            {
                sql.Append(" AND version = $version");
                command.With("$version", query.Version);
            }

            sql.Append(" ORDER BY sequence DESC LIMIT $limit");
            command.With("$limit", query.Limit > 0 ? query.Limit : -1);
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
                // The digest names the bytes, so a second save of the same digest has nothing new to say.
                using var insert = StoreCommands.Create(connection, transaction,
                    "INSERT OR IGNORE INTO config_snapshots (digest, file_name, content, saved_at) VALUES ($digest, $file, $content, $now)")
                    .With("$digest", digest).With("$file", fileName ?? "").With("$content", content).With("$now", StoreValues.ToUnixMs(Now()));
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken);
        }

        public Task<byte[]?> GetConfigSnapshotAsync(string digest, CancellationToken cancellationToken) =>
            ReadAsync(async connection =>
            {
                using var command = StoreCommands.Create(connection, null, "SELECT content FROM config_snapshots WHERE digest = $digest").With("$digest", digest);
                return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as byte[];
            }, cancellationToken);

        /// <summary>One instance's history, newest first; internal so tests can check its query plan.</summary>
        internal static SqliteCommand BuildHistoryQuery(SqliteConnection connection, string instanceId, int limit, bool includeReverted = false) =>
            StoreCommands.Create(connection, null, "SELECT " + HistoryColumns + " FROM version_history WHERE instance_id = $id" +
                    (includeReverted ? "" : ReleasedOnly) + " ORDER BY sequence DESC LIMIT $limit")
                .With("$id", instanceId).With("$limit", limit > 0 ? limit : -1);

        private static void BindHistory(SqliteCommand command, string instanceId, string service, string environment, string version, string fversion,
            string? previousVersion, string? previousFVersion, string deploymentId, DeploymentOperation operation, string? packageUrl, string? packageMd5,
            string? configDigest, string? configFileName, DateTimeOffset recordedAt, HistoryOutcome outcome = HistoryOutcome.Released, string? failedCheck = null) =>
            command.With("$instance", instanceId)
                .With("$service", service ?? "")
                .With("$environment", environment ?? "")
                .With("$version", version ?? "")
                .With("$fversion", fversion ?? "")
                .With("$previousVersion", previousVersion)
                .With("$previousFVersion", previousFVersion)
                .With("$deployment", deploymentId ?? "")
                .With("$operation", StoreValues.ToText(operation))
                .With("$url", packageUrl)
                .With("$md5", packageMd5)
                .With("$digest", configDigest)
                .With("$file", configFileName)
                .With("$now", StoreValues.ToUnixMs(recordedAt))
                .With("$outcome", StoreValues.ToText(outcome))
                .With("$failedCheck", failedCheck);

        /// <summary>The statements of one release, prepared once per transaction so a batch costs one parse per statement.</summary>
        private sealed class ReleaseWriter : IDisposable
        {
            private readonly SqliteReleaseStore _store;
            private readonly SqliteCommand _adjustCounters;
            private readonly SqliteCommand _updateTarget;
            private readonly SqliteCommand _readInstance;
            private readonly SqliteCommand _updateInstance;
            private readonly SqliteCommand _insertHistory;
            private readonly SqliteCommand _catalogue;

            public ReleaseWriter(SqliteReleaseStore store, SqliteConnection connection, SqliteTransaction transaction)
            {
                _store = store;
                _adjustCounters = StoreCommands.Create(connection, transaction, AdjustCountersSql);
                // from_version keeps what the engine learnt from the Floyd agent (the outcome's, else what the target said); the registry's view only fills a gap.
                _updateTarget = StoreCommands.Create(connection, transaction,
                    "UPDATE deployment_targets SET status = $status, attempts = $attempts, package_transferred = $package, config_transferred = $config, " +
                    "started_at = coalesce($started, started_at), ended_at = $ended, failed_step = NULL, error = NULL, " +
                    "from_version = coalesce($fromVersion, from_version, (SELECT version FROM instances WHERE instance_id = $instance)), " +
                    "from_fversion = coalesce($fromFVersion, from_fversion, (SELECT fversion FROM instances WHERE instance_id = $instance)) " +
                    "WHERE deployment_id = $deployment AND instance_id = $instance");
                _readInstance = StoreCommands.Create(connection, transaction, "SELECT version, fversion, service, environment FROM instances WHERE instance_id = $instance");
                _updateInstance = StoreCommands.Create(connection, transaction,
                    "UPDATE instances SET version = $version, fversion = $fversion, status = 'active', updated_at = $now WHERE instance_id = $instance");
                _insertHistory = StoreCommands.Create(connection, transaction, InsertHistorySql);
                _catalogue = StoreCommands.Create(connection, transaction, CatalogueVersionSql);
            }

            public void Write(ReleaseOutcome outcome, DateTimeOffset now)
            {
                _adjustCounters.With("$status", StoreValues.ToText(outcome.TargetStatus))
                    .With("$deployment", outcome.DeploymentId)
                    .With("$instance", outcome.InstanceId)
                    .ExecuteNonQuery();
                _updateTarget.With("$status", StoreValues.ToText(outcome.TargetStatus))
                    .With("$attempts", outcome.Attempts)
                    .With("$package", outcome.PackageTransferred ? 1 : 0)
                    .With("$config", outcome.ConfigTransferred ? 1 : 0)
                    .With("$started", StoreValues.ToDb(outcome.StartedAt))
                    .With("$ended", StoreValues.ToUnixMs(outcome.EndedAt == default ? now : outcome.EndedAt))
                    .With("$fromVersion", outcome.FromVersion)
                    .With("$fromFVersion", outcome.FromFVersion)
                    .With("$deployment", outcome.DeploymentId)
                    .With("$instance", outcome.InstanceId);
                if (_updateTarget.ExecuteNonQuery() == 0)
                {
                    throw _store.TargetNotFound(outcome.DeploymentId, outcome.InstanceId);
                }

                string? previousVersion;
                string? previousFVersion;
                string service;
                string environment;
                _readInstance.With("$instance", outcome.InstanceId);
                using (var reader = _readInstance.ExecuteReader())
                {
                    if (!reader.Read())
                    {
                        // Thrown after the target update on purpose: the transaction must undo it, never leave half a release.
                        throw _store.InstanceNotFound(outcome.InstanceId);
                    }

                    previousVersion = reader.NullableString(0);
                    previousFVersion = reader.NullableString(1);
                    service = reader.GetString(2);
                    environment = reader.GetString(3);
                }
                _updateInstance.With("$version", outcome.Version).With("$fversion", outcome.FVersion)
                    .With("$now", StoreValues.ToUnixMs(now)).With("$instance", outcome.InstanceId);
                _updateInstance.ExecuteNonQuery();

                if (outcome.TargetStatus == TargetStatus.Unchanged && string.Equals(previousFVersion, outcome.FVersion, StringComparison.Ordinal))
                {
                    // Nothing moved: the instance already ran this release, and the store knew it, so history gains no row. An agent
                    // found on the release while the store says otherwise (its activation was not recorded: a full disk, a killed
                    // client) did move: that gets its row, or history and rollback would go on from a release it no longer runs.
                    return;
                }
                BindHistory(_insertHistory, outcome.InstanceId, service, environment, outcome.Version, outcome.FVersion, previousVersion, previousFVersion,
                    outcome.DeploymentId, outcome.Operation, outcome.PackageUrl, outcome.PackageMd5, outcome.ConfigDigest, outcome.ConfigFileName, now);
                _insertHistory.ExecuteNonQuery();
                _catalogue.With("$service", service).With("$version", outcome.Version).ExecuteNonQuery();
            }

            public void Dispose()
            {
                _adjustCounters.Dispose();
                _updateTarget.Dispose();
                _readInstance.Dispose();
                _updateInstance.Dispose();
                _insertHistory.Dispose();
                _catalogue.Dispose();
            }
        }
    }
}
