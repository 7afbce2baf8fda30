using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Sqlite
{
    // Instance leases: which run may deploy to an instance now, and recovery from runs that died holding them.
    public sealed partial class SqliteReleaseStore
    {
        private const string LeaseColumns = "instance_id, deployment_id, host_name, process_id, process_started_at, acquired_at, heartbeat_at, expires_at, fencing_token";

        public Task<LeaseClaimResult> TryClaimInstancesAsync(LeaseOwner owner, IReadOnlyList<string> instanceIds, TimeSpan leaseDuration, CancellationToken cancellationToken)
        {
            if (owner == null)
            {
                throw new ArgumentNullException(nameof(owner));
            }

            if (string.IsNullOrEmpty(owner.DeploymentId))
            {
                throw new ArgumentException("A lease owner needs a DeploymentId.", nameof(owner));
            }

            if (instanceIds == null)
            {
                throw new ArgumentNullException(nameof(instanceIds));
            }

            if (leaseDuration <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(leaseDuration), leaseDuration, "A lease must last longer than zero.");
            }

            var distinct = instanceIds.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            return WriteAsync(async (connection, transaction) =>
            {
                // BEGIN IMMEDIATE (in WriteAsync) holds the write lock from the first read, so the check below and the
                // writes after it see the same leases: two claimers, in one process or two, cannot both pass.
                var now = Now();
                var nowMs = StoreValues.ToUnixMs(now);
                var conflicts = new List<LeaseRecord>();
                using (var select = StoreCommands.Create(connection, transaction,
                    "SELECT " + LeaseColumns + " FROM instance_leases WHERE instance_id = $id AND deployment_id <> $deployment AND expires_at > $now"))
                {
                    foreach (var instanceId in distinct)
                    {
                        select.With("$id", instanceId).With("$deployment", owner.DeploymentId).With("$now", nowMs);
                        using var reader = select.ExecuteReader();
                        if (reader.Read())
                        {
                            conflicts.Add(ReadLease(reader));
                        }
                    }
                }

                if (conflicts.Count > 0)
                {
                    return new LeaseClaimResult { Acquired = false, Conflicts = conflicts };
                }

                // One token per claim from the store-wide counter, drawn under the write lock, so later claims carry larger tokens.
                long token;
                using (var next = StoreCommands.Create(connection, transaction,
                    "UPDATE releasetools_store SET value = CAST(value AS INTEGER) + 1 WHERE key = 'lease_fencing_token' RETURNING CAST(value AS INTEGER)"))
                {
                    token = Convert.ToInt64(await next.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false));
                }

                using (var claim = StoreCommands.Create(connection, transaction,
                    "INSERT INTO instance_leases (" + LeaseColumns + ") VALUES ($id, $deployment, $host, $pid, $started, $now, $now, $expires, $token) " +
                    "ON CONFLICT (instance_id) DO UPDATE SET deployment_id = excluded.deployment_id, host_name = excluded.host_name, " +
                    "process_id = excluded.process_id, process_started_at = excluded.process_started_at, fencing_token = excluded.fencing_token, " +
                    "acquired_at = CASE WHEN instance_leases.deployment_id = excluded.deployment_id THEN instance_leases.acquired_at ELSE excluded.acquired_at END, " +
                    "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at " +
                    "WHERE instance_leases.deployment_id = excluded.deployment_id OR instance_leases.expires_at <= excluded.heartbeat_at"))
                {
                    var expires = StoreValues.ToUnixMs(now + leaseDuration);
                    foreach (var instanceId in distinct)
                    {
                        claim.With("$id", instanceId).With("$deployment", owner.DeploymentId).With("$host", owner.HostName ?? "")
                            .With("$pid", owner.ProcessId).With("$started", StoreValues.ToDb(owner.ProcessStartedAt))
                            .With("$now", nowMs).With("$expires", expires).With("$token", token);
                        if (claim.ExecuteNonQuery() != 1)
                        {
                            // Cannot happen under the write lock; if it ever does, claiming nothing is the safe answer.
                            throw new InvalidOperationException($"The lease on instance '{instanceId}' changed while it was being claimed.");
                        }
                    }
                }

                // The deployment remembers its owner, so recovery can judge it even after its leases are gone.
                using (var remember = StoreCommands.Create(connection, transaction,
                    "UPDATE deployments SET owner_host = $host, owner_process_id = $pid, owner_process_started_at = $started WHERE deployment_id = $deployment"))
                {
                    remember.With("$host", owner.HostName ?? "").With("$pid", owner.ProcessId).With("$started", StoreValues.ToDb(owner.ProcessStartedAt))
                        .With("$deployment", owner.DeploymentId);
                    await remember.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                return new LeaseClaimResult { Acquired = true, FencingToken = token };
            }, cancellationToken);
        }

        public Task<LeaseRenewal> RenewLeasesAsync(string deploymentId, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                var now = Now();
                using var renew = StoreCommands.Create(connection, transaction,
                    "UPDATE instance_leases SET heartbeat_at = $now, expires_at = $expires WHERE deployment_id = $deployment RETURNING instance_id")
                    .With("$now", StoreValues.ToUnixMs(now)).With("$expires", StoreValues.ToUnixMs(now + leaseDuration)).With("$deployment", deploymentId);
                return new LeaseRenewal { Renewed = await renew.ToListAsync(r => r.GetString(0), cancellationToken).ConfigureAwait(false) };
            }, cancellationToken);

        public Task ReleaseLeasesAsync(string deploymentId, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                using var delete = StoreCommands.Create(connection, transaction, "DELETE FROM instance_leases WHERE deployment_id = $deployment").With("$deployment", deploymentId);
                return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        /// <summary>Every lease on the listed instances (all leases when null), expired ones included.</summary>
        public Task<IReadOnlyList<LeaseRecord>> GetLeasesAsync(IReadOnlyList<string>? instanceIds, CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<LeaseRecord>>(async connection =>
            {
                using var command = instanceIds == null
                    ? StoreCommands.Create(connection, null, "SELECT " + LeaseColumns + " FROM instance_leases ORDER BY instance_id")
                    : StoreCommands.Create(connection, null, "SELECT " + LeaseColumns + " FROM instance_leases WHERE instance_id IN (SELECT value FROM json_each($ids)) ORDER BY instance_id")
                        .With("$ids", StoreCommands.JsonList(instanceIds));
                return await command.ToListAsync(ReadLease, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        public Task<LeaseRecord?> ForceReleaseLeaseAsync(string instanceId, string releasedBy, string reason, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                LeaseRecord? lease;
                using (var select = StoreCommands.Create(connection, transaction, "SELECT " + LeaseColumns + " FROM instance_leases WHERE instance_id = $id").With("$id", instanceId))
                using (var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    lease = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadLease(reader) : null;
                }

                if (lease == null)
                {
                    return null;
                }

                using (var delete = StoreCommands.Create(connection, transaction, "DELETE FROM instance_leases WHERE instance_id = $id").With("$id", instanceId))
                {
                    await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                var now = Now();
                var state = lease.ExpiresAt > now ? $"valid until {lease.ExpiresAt:u}" : $"expired at {lease.ExpiresAt:u}";
                await InsertAuditAsync(connection, transaction, lease.Owner.DeploymentId, StoreAuditKinds.LeaseForceReleased,
                    $"The lease on instance '{lease.InstanceId}' held by this deployment (host {lease.Owner.HostName}, process {lease.Owner.ProcessId}, {state}) " +
                    $"was force-released by {Describe(releasedBy)}: {(string.IsNullOrWhiteSpace(reason) ? "no reason given" : reason.Trim().TrimEnd('.'))}.",
                    now, cancellationToken).ConfigureAwait(false);
                return lease;
            }, cancellationToken);

        public async Task<IReadOnlyList<DeploymentRecord>> RecoverInterruptedAsync(Func<LeaseOwner, bool> isOwnerAlive, CancellationToken cancellationToken)
        {
            if (isOwnerAlive == null)
            {
                throw new ArgumentNullException(nameof(isOwnerAlive));
            }

            // Judge outside any transaction: the liveness callback may be slow, and the write lock must stay short.
            var candidates = await ReadAsync(connection => ReadRunningOwnersAsync(connection, cancellationToken), cancellationToken).ConfigureAwait(false);
            var recovered = new List<DeploymentRecord>();
            foreach (var candidate in candidates)
            {
                var reason = InterruptionJudge.Judge(candidate, isOwnerAlive, Now());
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
        /// A run records its end, then releases its leases. When the store fails between the two (a full disk), the run
        /// is no longer Running, so it is never interrupted, yet its leases would hold its instances until they expire:
        /// free them, so a resume or the next run need not wait. Read first, so the common case takes no write lock.
        /// </summary>
        private async Task FreeLeasesOfEndedRunsAsync(CancellationToken cancellationToken)
        {
            var any = await ReadAsync(async connection =>
            {
                using var command = StoreCommands.Create(connection, null, "SELECT EXISTS (SELECT 1 FROM instance_leases WHERE " + InterruptionJudge.HeldByEndedRun + ")");
                return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) != 0;
            }, cancellationToken).ConfigureAwait(false);
            if (!any)
            {
                return;
            }

            await WriteAsync(async (connection, transaction) =>
            {
                var freed = new List<(string DeploymentId, string InstanceId)>();
                using (var delete = StoreCommands.Create(connection, transaction,
                    "DELETE FROM instance_leases WHERE " + InterruptionJudge.HeldByEndedRun + " RETURNING deployment_id, instance_id"))
                using (var reader = await delete.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        freed.Add((reader.GetString(0), reader.GetString(1)));
                    }
                }

                var now = Now();
                foreach (var run in freed.GroupBy(f => f.DeploymentId, StringComparer.Ordinal))
                {
                    await InsertAuditAsync(connection, transaction, run.Key, StoreAuditKinds.EndedRunLeasesFreed,
                        InterruptionJudge.EndedRunLeasesMessage(run.Select(f => f.InstanceId).OrderBy(i => i, StringComparer.Ordinal)), now, cancellationToken).ConfigureAwait(false);
                }

                return freed.Count;
            }, cancellationToken).ConfigureAwait(false);
        }

        private async Task<DeploymentRecord?> InterruptAsync(SqliteConnection connection, SqliteTransaction transaction, RunningDeployment candidate, InterruptReason reason, CancellationToken cancellationToken)
        {
            var now = Now();
            var nowMs = StoreValues.ToUnixMs(now);
            // Re-check under the write lock: the run may have finished, or renewed its leases, since it was judged.
            using (var check = StoreCommands.Create(connection, transaction,
                "SELECT status = 'running', (SELECT count(*) FROM instance_leases WHERE deployment_id = $id AND expires_at > $now) FROM deployments WHERE deployment_id = $id")
                .With("$id", candidate.DeploymentId).With("$now", nowMs))
            using (var reader = await check.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!reader.Read() || reader.GetInt64(0) == 0 || (!reason.OwnerDead && reader.GetInt64(1) > 0))
                {
                    return null;
                }
            }

            using (var targets = StoreCommands.Create(connection, transaction,
                "UPDATE deployment_targets SET status = 'interrupted', ended_at = $now, error = coalesce(error, $error) " +
                "WHERE deployment_id = $id AND status IN ('pending', 'running')")
                .With("$now", nowMs).With("$id", candidate.DeploymentId).With("$error", InterruptionJudge.TargetError))
            {
                await targets.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            using (var leases = StoreCommands.Create(connection, transaction, "DELETE FROM instance_leases WHERE deployment_id = $id").With("$id", candidate.DeploymentId))
            {
                await leases.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            using (var deployment = StoreCommands.Create(connection, transaction,
                "UPDATE deployments SET status = 'interrupted', ended_at = $now WHERE deployment_id = $id").With("$now", nowMs).With("$id", candidate.DeploymentId))
            {
                await deployment.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await RecountAsync(connection, transaction, candidate.DeploymentId, cancellationToken).ConfigureAwait(false);
            await PropagateStatusAsync(connection, transaction, candidate.DeploymentId, DeploymentStatus.Interrupted, cancellationToken).ConfigureAwait(false);
            await InsertAuditAsync(connection, transaction, candidate.DeploymentId, StoreAuditKinds.Interrupted, InterruptionJudge.AuditMessage(reason),
                now, cancellationToken).ConfigureAwait(false);
            return await ReadDeploymentAsync(connection, transaction, candidate.DeploymentId, cancellationToken).ConfigureAwait(false);
        }

        private static async Task<IReadOnlyList<RunningDeployment>> ReadRunningOwnersAsync(SqliteConnection connection, CancellationToken cancellationToken)
        {
            var running = new List<RunningDeployment>();
            using (var command = StoreCommands.Create(connection, null,
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

            using (var leases = StoreCommands.Create(connection, null, "SELECT " + LeaseColumns + " FROM instance_leases WHERE deployment_id = $id"))
            {
                foreach (var deployment in running)
                {
                    leases.With("$id", deployment.DeploymentId);
                    deployment.Leases.AddRange(await leases.ToListAsync(ReadLease, cancellationToken).ConfigureAwait(false));
                }
            }

            return running;
        }

        private static string Describe(string releasedBy) => string.IsNullOrWhiteSpace(releasedBy) ? "an unnamed user" : releasedBy;
    }
}
