using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Sqlite
{
    // Deployment records, their targets and audit trail.
    public sealed partial class SqliteReleaseStore
    {
        private const string DeploymentColumns =
            "deployment_id, operation, service, target_version, package_url, package_md5, fversion, initiated_by, initiated_from, batch_count, " +
            "parameters_json, resumed_from, status, total_targets, succeeded_targets, failed_targets, skipped_targets, created_at, started_at, ended_at, " +
            "resumed_by, cancelled_targets";

        private const string TargetColumns =
            "deployment_id, instance_id, service, environment, batch, target_version, target_fversion, from_version, from_fversion, status, attempts, " +
            "package_transferred, config_transferred, failed_step, error, started_at, ended_at";

        // Succeeded counts Unchanged (the instance runs the target release), Failed counts Unreachable.
        private const string RecountSql =
            "UPDATE deployments SET total_targets = c.total, succeeded_targets = c.succeeded, failed_targets = c.failed, skipped_targets = c.skipped, " +
            "cancelled_targets = c.cancelled " +
            "FROM (SELECT count(*) AS total, " +
            "coalesce(sum(status IN (" + TargetCounters.SucceededStatuses + ")), 0) AS succeeded, " +
            "coalesce(sum(status IN (" + TargetCounters.FailedStatuses + ")), 0) AS failed, " +
            "coalesce(sum(status IN (" + TargetCounters.SkippedStatuses + ")), 0) AS skipped, " +
            "coalesce(sum(status IN (" + TargetCounters.CancelledStatuses + ")), 0) AS cancelled " +
            "FROM deployment_targets WHERE deployment_id = $id) AS c WHERE deployments.deployment_id = $id";

        // One target's change of status moves the run's counters, read before the target row is written.
        private static readonly string AdjustCountersSql =
            "UPDATE deployments SET " + TargetCounters.Adjustments("$status", "previous.status") +
            " FROM (SELECT status FROM deployment_targets WHERE deployment_id = $deployment AND instance_id = $instance) AS previous" +
            " WHERE deployments.deployment_id = $deployment AND " + TargetCounters.MovesACounter("$status", "previous.status");

        // Every run a run resumed, however long the chain: they take its final status.
        private const string PropagateStatusSql =
            "WITH RECURSIVE chain(id) AS (SELECT resumed_from FROM deployments WHERE deployment_id = $id AND resumed_from IS NOT NULL " +
            "UNION SELECT d.resumed_from FROM deployments AS d JOIN chain ON d.deployment_id = chain.id WHERE d.resumed_from IS NOT NULL) " +
            "UPDATE deployments SET status = $status WHERE deployment_id IN (SELECT id FROM chain)";

        private static readonly RandomNumberGenerator IdRandom = RandomNumberGenerator.Create();

        public Task<DeploymentRecord> CreateDeploymentAsync(NewDeployment deployment, IReadOnlyList<DeploymentTargetRecord> targets, CancellationToken cancellationToken)
        {
            if (deployment == null)
            {
                throw new ArgumentNullException(nameof(deployment));
            }

            if (targets == null)
            {
                throw new ArgumentNullException(nameof(targets));
            }

            return WriteAsync(async (connection, transaction) =>
            {
                var now = Now();
                var id = await NewDeploymentIdAsync(connection, transaction, now, cancellationToken).ConfigureAwait(false);
                using (var insert = StoreCommands.Create(connection, transaction,
                    "INSERT INTO deployments (deployment_id, operation, service, target_version, package_url, package_md5, fversion, initiated_by, initiated_from, " +
                    "batch_count, parameters_json, resumed_from, status, created_at) VALUES ($id, $operation, $service, $version, $url, $md5, $fversion, $by, $from, " +
                    "$batches, $parameters, $resumed, 'pending', $now)"))
                {
                    insert.With("$id", id)
                        .With("$operation", StoreValues.ToText(deployment.Operation))
                        .With("$service", deployment.Service ?? "")
                        .With("$version", deployment.TargetVersion ?? "")
                        .With("$url", deployment.PackageUrl)
                        .With("$md5", deployment.PackageMd5)
                        .With("$fversion", deployment.FVersion)
                        .With("$by", deployment.InitiatedBy ?? "")
                        .With("$from", deployment.InitiatedFrom ?? "")
                        .With("$batches", deployment.BatchCount)
                        .With("$parameters", deployment.ParametersJson)
                        .With("$resumed", deployment.ResumedFrom)
                        .With("$now", StoreValues.ToUnixMs(now));
                    await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                if (!string.IsNullOrEmpty(deployment.ResumedFrom))
                {
                    await MarkResumedAsync(connection, transaction, deployment.ResumedFrom!, id, now, cancellationToken).ConfigureAwait(false);
                }

                using (var insertTarget = StoreCommands.Create(connection, transaction,
                    "INSERT INTO deployment_targets (" + TargetColumns + ") VALUES ($deployment, $instance, $service, $environment, $batch, $version, $fversion, " +
                    "$fromVersion, $fromFVersion, $status, $attempts, $package, $config, $step, $error, $started, $ended)"))
                {
                    foreach (var target in targets)
                    {
                        BindTarget(insertTarget, target with { DeploymentId = id });
                        insertTarget.ExecuteNonQuery();
                    }
                }

                await RecountAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false);
                return (await ReadDeploymentAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false))!;
            }, cancellationToken);
        }

        public Task<DeploymentRecord> SetDeploymentStatusAsync(string deploymentId, DeploymentStatus status, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                var now = StoreValues.ToUnixMs(Now());
                var sql = status == DeploymentStatus.Running
                    ? "UPDATE deployments SET status = $status, started_at = coalesce(started_at, $now), ended_at = NULL WHERE deployment_id = $id"
                    : IsFinal(status)
                        ? "UPDATE deployments SET status = $status, ended_at = $now WHERE deployment_id = $id"
                        : "UPDATE deployments SET status = $status WHERE deployment_id = $id";
                using (var update = StoreCommands.Create(connection, transaction, sql)
                    .With("$status", StoreValues.ToText(status)).With("$now", now).With("$id", deploymentId))
                {
                    if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                    {
                        throw DeploymentNotFound(deploymentId);
                    }
                }

                await RecountAsync(connection, transaction, deploymentId, cancellationToken).ConfigureAwait(false);
                if (IsFinal(status))
                {
                    await PropagateStatusAsync(connection, transaction, deploymentId, status, cancellationToken).ConfigureAwait(false);
                }

                return (await ReadDeploymentAsync(connection, transaction, deploymentId, cancellationToken).ConfigureAwait(false))!;
            }, cancellationToken);

        public Task<DeploymentRecord?> GetDeploymentAsync(string deploymentId, CancellationToken cancellationToken) =>
            ReadAsync(connection => ReadDeploymentAsync(connection, null, deploymentId, cancellationToken), cancellationToken);

        public Task<IReadOnlyList<DeploymentRecord>> FindDeploymentsAsync(DeploymentQuery query, CancellationToken cancellationToken)
        {
            if (query == null)
            {
                throw new ArgumentNullException(nameof(query));
            }

            return ReadAsync<IReadOnlyList<DeploymentRecord>>(async connection =>
            {
                using var command = BuildDeploymentQuery(connection, query);
                return await command.ToListAsync(ReadDeployment, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);
        }

        /// <summary>The filter as SQL; internal so tests can check its query plan uses the indexes.</summary>
        internal static SqliteCommand BuildDeploymentQuery(SqliteConnection connection, DeploymentQuery query)
        {
            var sql = new StringBuilder("SELECT " + DeploymentColumns + " FROM deployments WHERE 1 = 1");
            var command = connection.CreateCommand();
            if (query.DeploymentId != null)
            {
                sql.Append(" AND deployment_id = $id");
                command.With("$id", query.DeploymentId);
            }

            // One service is compared with '=', so the service index also hands the runs over newest first.
            AddListFilter(sql, command, "service", "$services", query.Services);
            AddListFilter(sql, command, "status", "$statuses", query.Statuses == null ? null : ToTexts(query.Statuses));

            // Ids are time-sortable, so they break ties between deployments created in the same millisecond.
            sql.Append(" ORDER BY created_at DESC, deployment_id DESC LIMIT $limit");
            command.With("$limit", query.Limit > 0 ? query.Limit : -1);
            command.CommandText = sql.ToString();
            return command;
        }

        public Task<IReadOnlyList<DeploymentTargetRecord>> GetTargetsAsync(string deploymentId, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<DeploymentTargetRecord>>(async connection =>
            {
                using var command = StoreCommands.Create(connection, null,
                    "SELECT " + TargetColumns + " FROM deployment_targets WHERE deployment_id = $id ORDER BY batch, instance_id").With("$id", deploymentId);
                return await command.ToListAsync(ReadTarget, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        public Task UpdateTargetAsync(DeploymentTargetRecord target, CancellationToken cancellationToken) =>
            WriteTargetsAsync(new[] { TargetWrite.Of(target ?? throw new ArgumentNullException(nameof(target))) }, cancellationToken);

        /// <summary>
        /// Several target writes in one transaction, each kind's statements prepared once for the whole batch: a run's
        /// concurrent instances share one commit instead of one BEGIN IMMEDIATE each.
        /// </summary>
        public Task WriteTargetsAsync(IReadOnlyList<TargetWrite> writes, CancellationToken cancellationToken)
        {
            if (writes == null)
            {
                throw new ArgumentNullException(nameof(writes));
            }

            foreach (var write in writes)
            {
                if (write == null)
                {
                    throw new ArgumentException("A target write cannot be null.", nameof(writes));
                }

                if (write.Release != null)
                {
                    StoreValidation.ValidateOutcome(write.Release, nameof(writes));
                }
            }

            return WriteAsync((connection, transaction) =>
            {
                TargetStateWriter? states = null;
                ReleaseWriter? releases = null;
                try
                {
                    var count = 0;
                    foreach (var write in writes)
                    {
                        if ((count++ & 255) == 0)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                        }

                        if (write.State != null)
                        {
                            (states ??= new TargetStateWriter(this, connection, transaction)).Write(write.State);
                        }
                        else
                        {
                            (releases ??= new ReleaseWriter(this, connection, transaction)).Write(write.Release!, Now());
                        }
                    }
                }
                finally
                {
                    states?.Dispose();
                    releases?.Dispose();
                }

                return Task.FromResult(true);
            }, cancellationToken);
        }

        /// <summary>One target's state and the run's counters, inside the caller's transaction; prepared once per transaction.</summary>
        private sealed class TargetStateWriter : IDisposable
        {
            private readonly SqliteReleaseStore _store;
            private readonly SqliteCommand _adjustCounters;
            private readonly SqliteCommand _update;

            public TargetStateWriter(SqliteReleaseStore store, SqliteConnection connection, SqliteTransaction transaction)
            {
                _store = store;
                _adjustCounters = StoreCommands.Create(connection, transaction, AdjustCountersSql);
                _update = StoreCommands.Create(connection, transaction,
                    "UPDATE deployment_targets SET batch = $batch, target_version = $version, target_fversion = $fversion, from_version = $fromVersion, " +
                    "from_fversion = $fromFVersion, status = $status, attempts = $attempts, package_transferred = $package, config_transferred = $config, " +
                    "failed_step = $step, error = $error, started_at = $started, ended_at = $ended WHERE deployment_id = $deployment AND instance_id = $instance");
            }

            public void Write(DeploymentTargetRecord target)
            {
                _adjustCounters.With("$status", StoreValues.ToText(target.Status)).With("$deployment", target.DeploymentId).With("$instance", target.InstanceId)
                    .ExecuteNonQuery();
                BindTarget(_update, target);
                if (_update.ExecuteNonQuery() == 0)
                {
                    throw _store.TargetNotFound(target.DeploymentId, target.InstanceId);
                }
            }

            public void Dispose()
            {
                _adjustCounters.Dispose();
                _update.Dispose();
            }
        }

        public Task AppendAuditAsync(string deploymentId, string kind, string message, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                await InsertAuditAsync(connection, transaction, deploymentId, kind, message, Now(), cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken);

        public Task<IReadOnlyList<AuditEntry>> GetAuditAsync(string deploymentId, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<AuditEntry>>(async connection =>
            {
                using var command = StoreCommands.Create(connection, null,
                    "SELECT sequence, deployment_id, kind, message, recorded_at FROM deployment_audit WHERE deployment_id = $id ORDER BY sequence").With("$id", deploymentId);
                return await command.ToListAsync(ReadAudit, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        public static bool IsFinal(DeploymentStatus status) =>
            status != DeploymentStatus.Pending && status != DeploymentStatus.Running;

        private static async Task InsertAuditAsync(SqliteConnection connection, SqliteTransaction transaction, string deploymentId, string kind, string message, DateTimeOffset now, CancellationToken cancellationToken)
        {
            using var insert = StoreCommands.Create(connection, transaction,
                "INSERT INTO deployment_audit (deployment_id, kind, message, recorded_at) VALUES ($id, $kind, $message, $now)")
                .With("$id", deploymentId).With("$kind", kind ?? "").With("$message", message ?? "").With("$now", StoreValues.ToUnixMs(now));
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        private async Task MarkResumedAsync(SqliteConnection connection, SqliteTransaction transaction, string resumedFrom, string resumedBy, DateTimeOffset now,
            CancellationToken cancellationToken)
        {
            string? status;
            using (var mark = StoreCommands.Create(connection, transaction,
                "UPDATE deployments SET resumed_by = $by WHERE deployment_id = $from AND resumed_by IS NULL RETURNING status")
                .With("$by", resumedBy).With("$from", resumedFrom))
            {
                status = await mark.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
            }

            if (status == null)
            {
                var earlier = await ReadDeploymentAsync(connection, transaction, resumedFrom, cancellationToken).ConfigureAwait(false)
                    ?? throw DeploymentNotFound(resumedFrom);
                throw new StoreException(StoreErrorIds.DeploymentAlreadyResumed,
                    $"Deployment '{resumedFrom}' was already resumed by '{earlier.ResumedBy}'; resume that run instead if it still owes instances.", Location);
            }

            await InsertAuditAsync(connection, transaction, resumedFrom, StoreAuditKinds.Resumed,
                $"Resumed by {resumedBy}; this run had ended {StoreValues.Parse<DeploymentStatus>(status)}. Its status now follows the resume.", now, cancellationToken)
                .ConfigureAwait(false);
        }

        private static async Task PropagateStatusAsync(SqliteConnection connection, SqliteTransaction transaction, string deploymentId, DeploymentStatus status,
            CancellationToken cancellationToken)
        {
            using var propagate = StoreCommands.Create(connection, transaction, PropagateStatusSql)
                .With("$id", deploymentId).With("$status", StoreValues.ToText(status));
            await propagate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        private static async Task RecountAsync(SqliteConnection connection, SqliteTransaction transaction, string deploymentId, CancellationToken cancellationToken)
        {
            using var recount = StoreCommands.Create(connection, transaction, RecountSql).With("$id", deploymentId);
            await recount.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        /// <summary>d-yyyyMMdd-HHmmss-xxxxxx: sorts by creation time, short enough to type, random enough for many hosts.</summary>
        private static async Task<string> NewDeploymentIdAsync(SqliteConnection connection, SqliteTransaction transaction, DateTimeOffset now, CancellationToken cancellationToken)
        {
            var stamp = now.UtcDateTime.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
            var random = new byte[3];
            for (var attempt = 0; ; attempt++)
            {
                lock (IdRandom)
                {
                    IdRandom.GetBytes(random);
                }

                var id = $"d-{stamp}-{random[0]:x2}{random[1]:x2}{random[2]:x2}";
                using var exists = StoreCommands.Create(connection, transaction, "SELECT 1 FROM deployments WHERE deployment_id = $id").With("$id", id);
                if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) == null || attempt >= 16)
                {
                    return id;
                }
            }
        }

        private static async Task<DeploymentRecord?> ReadDeploymentAsync(SqliteConnection connection, SqliteTransaction? transaction, string deploymentId, CancellationToken cancellationToken)
        {
            using var command = StoreCommands.Create(connection, transaction, "SELECT " + DeploymentColumns + " FROM deployments WHERE deployment_id = $id").With("$id", deploymentId);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadDeployment(reader) : null;
        }

        private static void BindTarget(SqliteCommand command, DeploymentTargetRecord target) =>
            command.With("$deployment", target.DeploymentId)
                .With("$instance", target.InstanceId)
                .With("$service", target.Service ?? "")
                .With("$environment", target.Environment ?? "")
                .With("$batch", target.Batch)
                .With("$version", target.TargetVersion ?? "")
                .With("$fversion", target.TargetFVersion)
                .With("$fromVersion", target.FromVersion)
                .With("$fromFVersion", target.FromFVersion)
                .With("$status", StoreValues.ToText(target.Status))
                .With("$attempts", target.Attempts)
                .With("$package", target.PackageTransferred ? 1 : 0)
                .With("$config", target.ConfigTransferred ? 1 : 0)
                .With("$step", target.FailedStep)
                .With("$error", target.Error)
                .With("$started", StoreValues.ToDb(target.StartedAt))
                .With("$ended", StoreValues.ToDb(target.EndedAt));

        private static List<string> ToTexts(IReadOnlyList<DeploymentStatus> statuses)
        {
            var texts = new List<string>(statuses.Count);
            foreach (var status in statuses)
            {
                texts.Add(StoreValues.ToText(status));
            }

            return texts;
        }

        private StoreException DeploymentNotFound(string deploymentId) =>
            new StoreException(StoreErrorIds.DeploymentNotFound,
                $"Deployment '{deploymentId}' is not in the store '{Location}'. List deployments with Get-ReleaseDeployment to find its id.", Location);

        private StoreException TargetNotFound(string deploymentId, string instanceId) =>
            new StoreException(StoreErrorIds.DeploymentTargetNotFound,
                $"Instance '{instanceId}' is not a target of deployment '{deploymentId}' in the store '{Location}'.", Location);
    }
}
