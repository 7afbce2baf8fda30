using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Postgres
{
    // Deployment records, their targets and audit trail.
    public sealed partial class PostgresReleaseStore
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
            "count(*) FILTER (WHERE status IN (" + TargetCounters.SucceededStatuses + ")) AS succeeded, " +
            "count(*) FILTER (WHERE status IN (" + TargetCounters.FailedStatuses + ")) AS failed, " +
            "count(*) FILTER (WHERE status IN (" + TargetCounters.SkippedStatuses + ")) AS skipped, " +
            "count(*) FILTER (WHERE status IN (" + TargetCounters.CancelledStatuses + ")) AS cancelled " +
            "FROM deployment_targets WHERE deployment_id = @id) AS c WHERE deployments.deployment_id = @id";

        // Every run a run resumed, however long the chain: they take its final status.
        private const string PropagateStatusSql =
            "WITH RECURSIVE chain(id) AS (SELECT resumed_from FROM deployments WHERE deployment_id = @id AND resumed_from IS NOT NULL " +
            "UNION SELECT d.resumed_from FROM deployments AS d JOIN chain ON d.deployment_id = chain.id WHERE d.resumed_from IS NOT NULL) " +
            "UPDATE deployments SET status = @status WHERE deployment_id IN (SELECT id FROM chain)";

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
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                string id;
                using (var insert = PostgresCommands.Create(connection, transaction,
                    "INSERT INTO deployments (deployment_id, operation, service, target_version, package_url, package_md5, fversion, initiated_by, initiated_from, " +
                    "batch_count, parameters_json, resumed_from, status, created_at) VALUES (@id, @operation, @service, @version, @url, @md5, @fversion, @by, @from, " +
                    "@batches, @parameters, @resumed, 'pending', @now) ON CONFLICT (deployment_id) DO NOTHING"))
                {
                    insert.With("operation", StoreValues.ToText(deployment.Operation))
                        .With("service", deployment.Service ?? "")
                        .With("version", deployment.TargetVersion ?? "")
                        .With("url", deployment.PackageUrl)
                        .With("md5", deployment.PackageMd5)
                        .With("fversion", deployment.FVersion)
                        .With("by", deployment.InitiatedBy ?? "")
                        .With("from", deployment.InitiatedFrom ?? "")
                        .With("batches", deployment.BatchCount)
                        .With("parameters", deployment.ParametersJson)
                        .With("resumed", deployment.ResumedFrom)
                        .With("now", StoreValues.ToUnixMs(now));
                    // Ids carry 24 random bits per second; a clash is retried with a new id rather than failing the run.
                    for (var attempt = 0; ; attempt++)
                    {
                        id = DeploymentIds.New(now);
                        insert.With("id", id);
                        if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1 || attempt >= 16)
                        {
                            break;
                        }
                    }
                }

                if (!string.IsNullOrEmpty(deployment.ResumedFrom))
                {
                    await MarkResumedAsync(connection, transaction, deployment.ResumedFrom!, id, now, cancellationToken).ConfigureAwait(false);
                }

                if (targets.Count > 0)
                {
                    using var insertTargets = PostgresCommands.Create(connection, transaction,
                        "INSERT INTO deployment_targets (" + TargetColumns + ") SELECT @deployment, * FROM unnest(@instances, @services, @environments, @batches, " +
                        "@versions, @fversions, @fromVersions, @fromFVersions, @statuses, @attempts, @packages, @configs, @steps, @errors, @started, @ended)")
                        .With("deployment", id)
                        .WithList("instances", targets.Select(t => t.InstanceId))
                        .WithList("services", targets.Select(t => t.Service ?? ""))
                        .WithList("environments", targets.Select(t => t.Environment ?? ""))
                        .With("batches", targets.Select(t => t.Batch).ToArray())
                        .WithList("versions", targets.Select(t => t.TargetVersion ?? ""))
                        .WithList("fversions", targets.Select(t => t.TargetFVersion!))
                        .WithList("fromVersions", targets.Select(t => t.FromVersion!))
                        .WithList("fromFVersions", targets.Select(t => t.FromFVersion!))
                        .WithList("statuses", targets.Select(t => StoreValues.ToText(t.Status)))
                        .With("attempts", targets.Select(t => t.Attempts).ToArray())
                        .With("packages", targets.Select(t => t.PackageTransferred).ToArray())
                        .With("configs", targets.Select(t => t.ConfigTransferred).ToArray())
                        .WithList("steps", targets.Select(t => t.FailedStep!))
                        .WithList("errors", targets.Select(t => t.Error!))
                        .With("started", targets.Select(t => t.StartedAt.HasValue ? StoreValues.ToUnixMs(t.StartedAt.Value) : (long?)null).ToArray())
                        .With("ended", targets.Select(t => t.EndedAt.HasValue ? StoreValues.ToUnixMs(t.EndedAt.Value) : (long?)null).ToArray());
                    await insertTargets.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                return await RecountAndReadAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);
        }

        public Task<DeploymentRecord> SetDeploymentStatusAsync(string deploymentId, DeploymentStatus status, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                var now = StoreValues.ToUnixMs(await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false));
                var sql = status == DeploymentStatus.Running
                    ? "UPDATE deployments SET status = @status, started_at = coalesce(started_at, @now), ended_at = NULL WHERE deployment_id = @id"
                    : StoreValues.IsFinal(status)
                        ? "UPDATE deployments SET status = @status, ended_at = @now WHERE deployment_id = @id"
                        : "UPDATE deployments SET status = @status WHERE deployment_id = @id";
                object? resumedFrom;
                using (var update = PostgresCommands.Create(connection, transaction, sql + " RETURNING resumed_from")
                    .With("status", StoreValues.ToText(status)).With("now", now).With("id", deploymentId))
                {
                    // No row: no such run. A row whose resumed_from is NULL: a run that resumed nothing.
                    resumedFrom = await update.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                    if (resumedFrom == null)
                    {
                        throw StoreValidation.DeploymentNotFound(deploymentId, Location);
                    }
                }

                // Most runs resumed nothing, and skip the walk along the chain (which never reaches this run itself).
                if (StoreValues.IsFinal(status) && resumedFrom is string)
                {
                    await PropagateStatusAsync(connection, transaction, deploymentId, status, cancellationToken).ConfigureAwait(false);
                }

                return await RecountAndReadAsync(connection, transaction, deploymentId, cancellationToken).ConfigureAwait(false);
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
        internal static NpgsqlCommand BuildDeploymentQuery(NpgsqlConnection connection, DeploymentQuery query)
        {
            var sql = new StringBuilder("SELECT " + DeploymentColumns + " FROM deployments WHERE true");
            var command = connection.CreateCommand();
            if (query.DeploymentId != null)
            {
                sql.Append(" AND deployment_id = @id");
                command.With("id", query.DeploymentId);
            }

            // One service is compared with '=', so the service index also hands the runs over newest first.
            AddListFilter(sql, command, "service", "services", query.Services);
            AddListFilter(sql, command, "status", "statuses", query.Statuses?.Select(s => StoreValues.ToText(s)).ToList());

            // Ids are time-sortable, so they break ties between deployments created in the same millisecond.
            sql.Append(" ORDER BY created_at DESC, deployment_id DESC");
            if (query.Limit > 0)
            {
                sql.Append(" LIMIT @limit");
                command.With("limit", query.Limit);
            }

            command.CommandText = sql.ToString();
            return command;
        }

        public Task<IReadOnlyList<DeploymentTargetRecord>> GetTargetsAsync(string deploymentId, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<DeploymentTargetRecord>>(async connection =>
            {
                using var command = PostgresCommands.Create(connection, null,
                    "SELECT " + TargetColumns + " FROM deployment_targets WHERE deployment_id = @id ORDER BY batch, instance_id").With("id", deploymentId);
                return await command.ToListAsync(ReadTarget, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        public Task UpdateTargetAsync(DeploymentTargetRecord target, CancellationToken cancellationToken) =>
            WriteTargetsAsync(new[] { TargetWrite.Of(target ?? throw new ArgumentNullException(nameof(target))) }, cancellationToken);

        /// <summary>Several target writes in one transaction: a run's concurrent instances share one commit (and its WAL flush).</summary>
        public Task WriteTargetsAsync(IReadOnlyList<TargetWrite> writes, CancellationToken cancellationToken)
        {
            if (writes == null)
            {
                throw new ArgumentNullException(nameof(writes));
            }

            var releases = false;
            foreach (var write in writes)
            {
                if (write == null)
                {
                    throw new ArgumentException("A target write cannot be null.", nameof(writes));
                }

                if (write.Release != null)
                {
                    StoreValidation.ValidateOutcome(write.Release, nameof(writes));
                    releases = true;
                }
            }

            return WriteAsync(async (connection, transaction) =>
            {
                // History rows take the server's clock, read once per transaction as a single release did.
                var now = releases ? await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false) : default;
                foreach (var write in writes)
                {
                    if (write.State != null)
                    {
                        await WriteTargetAsync(connection, transaction, write.State, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await WriteReleaseAsync(connection, transaction, write.Release!, now, cancellationToken).ConfigureAwait(false);
                    }
                }

                return true;
            }, cancellationToken);
        }

        /// <summary>
        /// The start of a statement that writes one target: it reads the target's status as the statement's snapshot saw it
        /// and moves the run's counters by the change (data-modifying CTEs run to completion whatever the main statement reads),
        /// so the counters stay live without recounting the run on every target write.
        /// </summary>
        /// <remarks>
        /// No FOR UPDATE: the CTE runs after the main UPDATE changed the row and would then find nothing to lock. The only
        /// other writer of a running run's targets, the interruption of a dead run, moves them from pending or running to
        /// interrupted, statuses no counter counts, and recounts the run, so a write racing it moves the counters the same.
        /// </remarks>
        private static string WithCountersAdjusted(string status, string deployment, string instance) =>
            $"WITH previous AS (SELECT status FROM deployment_targets WHERE deployment_id = {deployment} AND instance_id = {instance}), " +
            $"counted AS (UPDATE deployments SET {TargetCounters.Adjustments(status, "previous.status")} FROM previous " +
            $"WHERE deployments.deployment_id = {deployment} AND {TargetCounters.MovesACounter(status, "previous.status")}) ";

        /// <summary>One target's state and the run's counters, inside the caller's transaction.</summary>
        private async Task WriteTargetAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DeploymentTargetRecord target, CancellationToken cancellationToken)
        {
            using (var update = PostgresCommands.Create(connection, transaction,
                WithCountersAdjusted("$10", "$1", "$2") +
                "UPDATE deployment_targets SET batch = $5, target_version = $6, target_fversion = $7, from_version = $8, " +
                "from_fversion = $9, status = $10, attempts = $11, package_transferred = $12, config_transferred = $13, " +
                "failed_step = $14, error = $15, started_at = $16, ended_at = $17 WHERE deployment_id = $1 AND instance_id = $2"))
            {
                AddTargetValues(update.Parameters, target);
                if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw StoreValidation.TargetNotFound(target.DeploymentId, target.InstanceId, Location);
                }
            }
        }

        public Task AppendAuditAsync(string deploymentId, string kind, string message, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                await InsertAuditAsync(connection, transaction, deploymentId, kind, message, now, cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken);

        public Task<IReadOnlyList<AuditEntry>> GetAuditAsync(string deploymentId, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<AuditEntry>>(async connection =>
            {
                using var command = PostgresCommands.Create(connection, null,
                    "SELECT sequence, deployment_id, kind, message, recorded_at FROM deployment_audit WHERE deployment_id = @id ORDER BY sequence").With("id", deploymentId);
                return await command.ToListAsync(ReadAudit, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        private static async Task InsertAuditAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string deploymentId, string kind, string message, DateTimeOffset now, CancellationToken cancellationToken)
        {
            using var insert = PostgresCommands.Create(connection, transaction,
                "INSERT INTO deployment_audit (deployment_id, kind, message, recorded_at) VALUES (@id, @kind, @message, @now)")
                .With("id", deploymentId).With("kind", kind ?? "").With("message", message ?? "").With("now", StoreValues.ToUnixMs(now));
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        private async Task MarkResumedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string resumedFrom, string resumedBy, DateTimeOffset now,
            CancellationToken cancellationToken)
        {
            string? status;
            using (var mark = PostgresCommands.Create(connection, transaction,
                "UPDATE deployments SET resumed_by = @by WHERE deployment_id = @from AND resumed_by IS NULL RETURNING status")
                .With("by", resumedBy).With("from", resumedFrom))
            {
                status = await mark.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
            }

            if (status == null)
            {
                var earlier = await ReadDeploymentAsync(connection, transaction, resumedFrom, cancellationToken).ConfigureAwait(false)
                    ?? throw StoreValidation.DeploymentNotFound(resumedFrom, Location);
                throw new StoreException(StoreErrorIds.DeploymentAlreadyResumed,
                    $"Deployment '{resumedFrom}' was already resumed by '{earlier.ResumedBy}'; resume that run instead if it still owes instances.", Location);
            }

            await InsertAuditAsync(connection, transaction, resumedFrom, StoreAuditKinds.Resumed,
                $"Resumed by {resumedBy}; this run had ended {StoreValues.Parse<DeploymentStatus>(status)}. Its status now follows the resume.", now, cancellationToken)
                .ConfigureAwait(false);
        }

        private static async Task PropagateStatusAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string deploymentId, DeploymentStatus status,
            CancellationToken cancellationToken)
        {
            using var propagate = PostgresCommands.Create(connection, transaction, PropagateStatusSql)
                .With("id", deploymentId).With("status", StoreValues.ToText(status));
            await propagate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        private static async Task RecountAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string deploymentId, CancellationToken cancellationToken)
        {
            using var recount = PostgresCommands.Create(connection, transaction, RecountSql).With("id", deploymentId);
            await recount.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Recounts the run's targets and reads the run back, in one round trip (one command of two statements).</summary>
        private static async Task<DeploymentRecord> RecountAndReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string deploymentId, CancellationToken cancellationToken)
        {
            using var command = PostgresCommands.Create(connection, transaction,
                RecountSql + "; SELECT " + DeploymentColumns + " FROM deployments WHERE deployment_id = @id").With("id", deploymentId);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            do
            {
                // The recount returns no rows; the run is the result that has columns.
                if (reader.FieldCount > 0 && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return ReadDeployment(reader);
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));

            throw new InvalidOperationException($"Deployment '{deploymentId}' vanished inside its own transaction.");
        }

        private static async Task<DeploymentRecord?> ReadDeploymentAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string deploymentId, CancellationToken cancellationToken)
        {
            using var command = PostgresCommands.Create(connection, transaction, "SELECT " + DeploymentColumns + " FROM deployments WHERE deployment_id = @id").With("id", deploymentId);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadDeployment(reader) : null;
        }

        /// <summary>The 17 target columns as positional parameters $1..$17, in <see cref="TargetColumns"/> order.</summary>
        private static void AddTargetValues(NpgsqlParameterCollection parameters, DeploymentTargetRecord target)
        {
            object[] values =
            {
                target.DeploymentId, target.InstanceId, target.Service ?? "", target.Environment ?? "", target.Batch, target.TargetVersion ?? "",
                StoreValues.ToDb(target.TargetFVersion), StoreValues.ToDb(target.FromVersion), StoreValues.ToDb(target.FromFVersion),
                StoreValues.ToText(target.Status), target.Attempts, target.PackageTransferred, target.ConfigTransferred,
                StoreValues.ToDb(target.FailedStep), StoreValues.ToDb(target.Error), StoreValues.ToDb(target.StartedAt), StoreValues.ToDb(target.EndedAt),
            };
            foreach (var value in values)
            {
                parameters.Add(new NpgsqlParameter { Value = value, NpgsqlDbType = value is DBNull ? NullType(parameters.Count) : InferType(value) });
            }
        }

        private static NpgsqlTypes.NpgsqlDbType NullType(int ordinal) => ordinal == 15 || ordinal == 16 ? NpgsqlTypes.NpgsqlDbType.Bigint : NpgsqlTypes.NpgsqlDbType.Text;

        private static NpgsqlTypes.NpgsqlDbType InferType(object value) => value switch
        {
            int _ => NpgsqlTypes.NpgsqlDbType.Integer,
            long _ => NpgsqlTypes.NpgsqlDbType.Bigint,
            bool _ => NpgsqlTypes.NpgsqlDbType.Boolean,
            _ => NpgsqlTypes.NpgsqlDbType.Text,
        };
    }
}
