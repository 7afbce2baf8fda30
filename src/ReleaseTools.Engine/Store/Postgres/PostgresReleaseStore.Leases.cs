using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Postgres
{
    // Instance leases on the server's clock: which run may deploy to an instance now, and recovery from runs that
    // died holding them. Races are decided by row locks inside one transaction (INSERT ... ON CONFLICT DO UPDATE
    // locks each lease row it looks at), never by session advisory locks, which a connection pool would keep alive.
    public sealed partial class PostgresReleaseStore
    {
        private const string LeaseColumns = "instance_id, deployment_id, host_name, process_id, process_started_at, acquired_at, heartbeat_at, expires_at, fencing_token";

        public async Task<LeaseClaimResult> TryClaimInstancesAsync(LeaseOwner owner, IReadOnlyList<string> instanceIds, TimeSpan leaseDuration, CancellationToken cancellationToken)
        {
            StoreValidation.ValidateClaim(owner, instanceIds, leaseDuration);
            // One order for every claimer, so two claims of overlapping sets lock rows in the same order and never deadlock.
            var distinct = instanceIds.Distinct(StringComparer.OrdinalIgnoreCase).OrderBy(id => id.ToUpperInvariant(), StringComparer.Ordinal).ToArray();
            for (var attempt = 1; ; attempt++)
            {
                var claim = await WriteAsync(
                    (connection, transaction) => ClaimAsync(connection, transaction, owner, distinct, leaseDuration, cancellationToken),
                    commitWhen: result => result.Acquired,
                    cancellationToken).ConfigureAwait(false);
                if (claim.Acquired || distinct.Length == 0)
                {
                    return claim;
                }

                // The claim rolled back; name who holds the instances now. When nobody does any more (the holder let go
                // between our claim and this read), try again rather than report a conflict without a holder.
                var conflicts = await ReadAsync(async connection =>
                {
                    var now = await ServerNowAsync(connection, null, cancellationToken).ConfigureAwait(false);
                    using var select = PostgresCommands.Create(connection, null,
                        "SELECT " + LeaseColumns + " FROM instance_leases WHERE instance_id = ANY(@ids) AND deployment_id <> @deployment AND expires_at > @now ORDER BY instance_id")
                        .WithList("ids", distinct).With("deployment", owner.DeploymentId).With("now", StoreValues.ToUnixMs(now));
                    return await select.ToListAsync(ReadLease, cancellationToken).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
                if (conflicts.Count > 0 || attempt >= 5)
                {
                    return new LeaseClaimResult { Acquired = false, Conflicts = conflicts };
                }
            }
        }

        private async Task<LeaseClaimResult> ClaimAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, LeaseOwner owner, string[] instanceIds,
            TimeSpan leaseDuration, CancellationToken cancellationToken)
        {
            var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            long token;
            using (var next = PostgresCommands.Create(connection, transaction, "SELECT nextval('lease_fencing_tokens')"))
            {
                token = (long)(await next.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            int claimed;
            using (var claim = PostgresCommands.Create(connection, transaction,
                "INSERT INTO instance_leases (" + LeaseColumns + ") " +
                "SELECT id, @deployment, @host, @pid, @started, @now, @now, @expires, @token FROM unnest(@ids) WITH ORDINALITY AS t(id, n) ORDER BY n " +
                "ON CONFLICT (instance_id) DO UPDATE SET deployment_id = excluded.deployment_id, host_name = excluded.host_name, " +
                "process_id = excluded.process_id, process_started_at = excluded.process_started_at, fencing_token = excluded.fencing_token, " +
                "acquired_at = CASE WHEN instance_leases.deployment_id = excluded.deployment_id THEN instance_leases.acquired_at ELSE excluded.acquired_at END, " +
                "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at " +
                "WHERE instance_leases.deployment_id = excluded.deployment_id OR instance_leases.expires_at <= excluded.heartbeat_at"))
            {
                claim.WithList("ids", instanceIds).With("deployment", owner.DeploymentId).With("host", owner.HostName ?? "").With("pid", owner.ProcessId)
                    .With("now", StoreValues.ToUnixMs(now)).With("expires", StoreValues.ToUnixMs(now + leaseDuration)).With("token", token);
                claim.Parameters.Add(new NpgsqlParameter("started", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = StoreValues.ToDb(owner.ProcessStartedAt) });
                claimed = await claim.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            if (claimed != instanceIds.Length)
            {
                // Some instance is held by another live run: the caller rolls all of this back.
                return new LeaseClaimResult { Acquired = false };
            }

            // The deployment remembers its owner, so recovery can judge it even after its leases are gone.
            using (var remember = PostgresCommands.Create(connection, transaction,
                "UPDATE deployments SET owner_host = @host, owner_process_id = @pid, owner_process_started_at = @started WHERE deployment_id = @deployment"))
            {
                remember.With("host", owner.HostName ?? "").With("pid", owner.ProcessId).With("deployment", owner.DeploymentId);
                remember.Parameters.Add(new NpgsqlParameter("started", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = StoreValues.ToDb(owner.ProcessStartedAt) });
                await remember.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            return new LeaseClaimResult { Acquired = true, FencingToken = token };
        }

        public Task<LeaseRenewal> RenewLeasesAsync(string deploymentId, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                using var renew = PostgresCommands.Create(connection, transaction,
                    "UPDATE instance_leases SET heartbeat_at = @now, expires_at = @expires WHERE deployment_id = @deployment RETURNING instance_id")
                    .With("now", StoreValues.ToUnixMs(now)).With("expires", StoreValues.ToUnixMs(now + leaseDuration)).With("deployment", deploymentId);
                return new LeaseRenewal { Renewed = await renew.ToListAsync(r => r.GetString(0), cancellationToken).ConfigureAwait(false) };
            }, cancellationToken);

        public Task ReleaseLeasesAsync(string deploymentId, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                using var delete = PostgresCommands.Create(connection, transaction, "DELETE FROM instance_leases WHERE deployment_id = @deployment").With("deployment", deploymentId);
                return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        /// <summary>Every lease on the listed instances (all leases when null), expired ones included.</summary>
        public Task<IReadOnlyList<LeaseRecord>> GetLeasesAsync(IReadOnlyList<string>? instanceIds, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<LeaseRecord>>(async connection =>
            {
                using var command = instanceIds == null
                    ? PostgresCommands.Create(connection, null, "SELECT " + LeaseColumns + " FROM instance_leases ORDER BY instance_id")
                    : PostgresCommands.Create(connection, null, "SELECT " + LeaseColumns + " FROM instance_leases WHERE instance_id = ANY(@ids) ORDER BY instance_id")
                        .WithList("ids", instanceIds);
                return await command.ToListAsync(ReadLease, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        public Task<LeaseRecord?> ForceReleaseLeaseAsync(string instanceId, string releasedBy, string reason, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                LeaseRecord? lease;
                using (var delete = PostgresCommands.Create(connection, transaction, "DELETE FROM instance_leases WHERE instance_id = @id RETURNING " + LeaseColumns).With("id", instanceId))
                using (var reader = await delete.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    lease = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadLease(reader) : null;
                }

                if (lease == null)
                {
                    return null;
                }

                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                var state = lease.ExpiresAt > now ? $"valid until {lease.ExpiresAt:u}" : $"expired at {lease.ExpiresAt:u}";
                await InsertAuditAsync(connection, transaction, lease.Owner.DeploymentId, StoreAuditKinds.LeaseForceReleased,
                    $"The lease on instance '{lease.InstanceId}' held by this deployment (host {lease.Owner.HostName}, process {lease.Owner.ProcessId}, {state}) " +
                    $"was force-released by {(string.IsNullOrWhiteSpace(releasedBy) ? "an unnamed user" : releasedBy)}: " +
                    $"{(string.IsNullOrWhiteSpace(reason) ? "no reason given" : reason.Trim().TrimEnd('.'))}.",
                    now, cancellationToken).ConfigureAwait(false);
                return lease;
            }, cancellationToken);

        public async Task<IReadOnlyList<DeploymentRecord>> RecoverInterruptedAsync(Func<LeaseOwner, bool> isOwnerAlive, CancellationToken cancellationToken)
        {
            if (isOwnerAlive == null)
            {
                throw new ArgumentNullException(nameof(isOwnerAlive));
            }

            // Judge outside any transaction: the liveness callback may be slow, and row locks must stay short.
            var (candidates, now) = await ReadAsync(async connection =>
                (await ReadRunningOwnersAsync(connection, cancellationToken).ConfigureAwait(false),
                 await ServerNowAsync(connection, null, cancellationToken).ConfigureAwait(false)), cancellationToken).ConfigureAwait(false);
            var recovered = new List<DeploymentRecord>();
            foreach (var candidate in candidates)
            {
                var reason = InterruptionJudge.Judge(candidate, isOwnerAlive, now);
                if (reason == null)
                {
                    continue;
                }

                var record = await WriteAsync((connection, transaction) => InterruptAsync(connection, transaction, candidate, reason, cancellationToken), cancellationToken)
                    .ConfigureAwait(false);
                if (record != null)
                {
                    recovered.Add(record);
                }
            }

            await FreeLeasesOfEndedRunsAsync(cancellationToken).ConfigureAwait(false);
            return recovered;
        }

        /// <summary>
        /// A run records its end, then releases its leases. When the store fails between the two, the run is no longer
        /// Running, so it is never interrupted, yet its leases would hold its instances until they expire: free them, so
        /// a resume or the next run need not wait. Read first, so the common case takes no row lock.
        /// </summary>
        private async Task FreeLeasesOfEndedRunsAsync(CancellationToken cancellationToken)
        {
            var any = await ReadAsync(async connection =>
            {
                using var command = PostgresCommands.Create(connection, null, "SELECT EXISTS (SELECT 1 FROM instance_leases WHERE " + InterruptionJudge.HeldByEndedRun + ")");
                return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }, cancellationToken).ConfigureAwait(false);
            if (!any)
            {
                return;
            }

            await WriteAsync(async (connection, transaction) =>
            {
                var freed = new List<(string DeploymentId, string InstanceId)>();
                using (var delete = PostgresCommands.Create(connection, transaction,
                    "DELETE FROM instance_leases WHERE " + InterruptionJudge.HeldByEndedRun + " RETURNING deployment_id, instance_id"))
                using (var reader = await delete.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        freed.Add((reader.GetString(0), reader.GetString(1)));
                    }
                }

                var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                foreach (var run in freed.GroupBy(f => f.DeploymentId, StringComparer.Ordinal))
                {
                    await InsertAuditAsync(connection, transaction, run.Key, StoreAuditKinds.EndedRunLeasesFreed,
                        InterruptionJudge.EndedRunLeasesMessage(run.Select(f => f.InstanceId).OrderBy(i => i, StringComparer.Ordinal)), now, cancellationToken).ConfigureAwait(false);
                }

                return freed.Count;
            }, cancellationToken).ConfigureAwait(false);
        }

        private async Task<DeploymentRecord?> InterruptAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, RunningDeployment candidate, InterruptReason reason, CancellationToken cancellationToken)
        {
            var now = await ServerNowAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            var nowMs = StoreValues.ToUnixMs(now);
            // Re-check with the deployment row locked: the run may have finished, or renewed its leases, since it was judged.
            using (var check = PostgresCommands.Create(connection, transaction,
                "SELECT status = 'running', (SELECT count(*) FROM instance_leases WHERE deployment_id = @id AND expires_at > @now) " +
                "FROM deployments WHERE deployment_id = @id FOR UPDATE")
                .With("id", candidate.DeploymentId).With("now", nowMs))
            using (var reader = await check.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || !reader.GetBoolean(0) || (!reason.OwnerDead && reader.GetInt64(1) > 0))
                {
                    return null;
                }
            }

            using (var targets = PostgresCommands.Create(connection, transaction,
                "UPDATE deployment_targets SET status = 'interrupted', ended_at = @now, error = coalesce(error, @error) " +
                "WHERE deployment_id = @id AND status IN ('pending', 'running')")
                .With("now", nowMs).With("id", candidate.DeploymentId).With("error", InterruptionJudge.TargetError))
            {
                await targets.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            using (var leases = PostgresCommands.Create(connection, transaction, "DELETE FROM instance_leases WHERE deployment_id = @id").With("id", candidate.DeploymentId))
            {
                await leases.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            using (var deployment = PostgresCommands.Create(connection, transaction,
                "UPDATE deployments SET status = 'interrupted', ended_at = @now WHERE deployment_id = @id").With("now", nowMs).With("id", candidate.DeploymentId))
            {
                await deployment.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await RecountAsync(connection, transaction, candidate.DeploymentId, cancellationToken).ConfigureAwait(false);
            await PropagateStatusAsync(connection, transaction, candidate.DeploymentId, DeploymentStatus.Interrupted, cancellationToken).ConfigureAwait(false);
            await InsertAuditAsync(connection, transaction, candidate.DeploymentId, StoreAuditKinds.Interrupted, InterruptionJudge.AuditMessage(reason), now, cancellationToken)
                .ConfigureAwait(false);
            return await ReadDeploymentAsync(connection, transaction, candidate.DeploymentId, cancellationToken).ConfigureAwait(false);
        }

        private static async Task<IReadOnlyList<RunningDeployment>> ReadRunningOwnersAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
        {
            var running = new List<RunningDeployment>();
            using (var command = PostgresCommands.Create(connection, null,
                "SELECT deployment_id, owner_host, owner_process_id, owner_process_started_at FROM deployments WHERE status = 'running'"))
            using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var deploymentId = reader.GetString(0);
                    var owner = reader.IsDBNull(1) ? null : new LeaseOwner
                    {
                        DeploymentId = deploymentId,
                        HostName = reader.GetString(1),
                        ProcessId = reader.GetInt32(2),
                        ProcessStartedAt = reader.NullableTime(3),
                    };
                    running.Add(new RunningDeployment(deploymentId, owner));
                }
            }

            if (running.Count == 0)
            {
                return running;
            }

            using (var leases = PostgresCommands.Create(connection, null, "SELECT " + LeaseColumns + " FROM instance_leases WHERE deployment_id = ANY(@ids)")
                .WithList("ids", running.Select(r => r.DeploymentId)))
            {
                var byDeployment = running.ToDictionary(r => r.DeploymentId, StringComparer.Ordinal);
                foreach (var lease in await leases.ToListAsync(ReadLease, cancellationToken).ConfigureAwait(false))
                {
                    byDeployment[lease.Owner.DeploymentId].Leases.Add(lease);
                }
            }

            return running;
        }

    }
}
