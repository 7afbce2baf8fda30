using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Engine.Store
{
    /// <summary>What a backend lends the lifecycle records: its read and write transactions, its clock, and how it locks a row.</summary>
    internal interface ILifecycleDatabase
    {
        /// <summary>What follows a SELECT of one release row to lock it for the transaction ("" where the transaction already holds the write lock).</summary>
        string LockRow { get; }

        Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken cancellationToken);

        /// <summary>One write transaction; <c>now</c> is the time the backend records (the server's, for PostgreSQL).</summary>
        Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, DateTimeOffset, Task<T>> work, CancellationToken cancellationToken);
    }

    /// <summary>
    /// The lifecycle records of both stores: one implementation in plain ADO.NET over each backend's own connections and
    /// transactions (the two schemas keep the same tables and columns, and both providers read "@name" parameters). The one
    /// difference is how a release row is locked before it is judged: SQLite's BEGIN IMMEDIATE already holds the write lock,
    /// PostgreSQL takes the row with FOR UPDATE.
    /// </summary>
    internal sealed class LifecycleStore : ILifecycleStore
    {
        private const string ReleaseColumns = "release_id, name, description, pre_environment, prod_environment, state, revision, created_by, created_at, updated_at";
        private const string EntryColumns = "service, version, package_url, checksum, allow_local_package, config_kind, config_content, config_file_name, config_values";
        private const string TransitionColumns = "sequence, release_id, event, from_state, to_state, actor, comment, recorded_at";
        private const string RunColumns = "sequence, release_id, transition, stage, service, environment, deployment_id, status, error, started_at, ended_at";
        private const string LeaseColumns = "name, holder_id, host_name, process_id, acquired_at, expires_at";

        /// <summary>What the approval policy's keys in the store's key/value table start with (a backup carries exactly those rows).</summary>
        internal const string PolicyKeyPrefix = "release_policy.";
        private const string PolicyRequiredKey = PolicyKeyPrefix + "required_approvals";
        private const string PolicySelfKey = PolicyKeyPrefix + "allow_self_approval";
        private const string PolicyApproversKey = PolicyKeyPrefix + "approvers";

        private readonly ILifecycleDatabase _database;
        private readonly string _lockRow;

        public LifecycleStore(ILifecycleDatabase database)
        {
            _database = database;
            _lockRow = database.LockRow;
        }

        // The contract ----------------------------------------------------------------------------------------------

        public Task<ReleaseRecord> CreateReleaseAsync(NewRelease release, IReadOnlyList<ReleaseEntry> entries, CancellationToken cancellationToken) =>
            _database.WriteAsync((connection, transaction, now) => CreateAsync(connection, transaction, now, release ?? throw new ArgumentNullException(nameof(release)),
                entries ?? Array.Empty<ReleaseEntry>(), cancellationToken), cancellationToken);

        public Task<ReleaseRecord?> GetReleaseAsync(string releaseId, CancellationToken cancellationToken) =>
            _database.ReadAsync(connection => GetReleaseAsync(connection, null, releaseId, forUpdate: false, cancellationToken), cancellationToken);

        public Task<IReadOnlyList<ReleaseRecord>> FindReleasesAsync(ReleaseQuery query, CancellationToken cancellationToken) =>
            _database.ReadAsync(connection => FindReleasesAsync(connection, query ?? new ReleaseQuery(), cancellationToken), cancellationToken);

        public Task<IReadOnlyList<ReleaseEntry>> GetReleaseEntriesAsync(string releaseId, CancellationToken cancellationToken) =>
            _database.ReadAsync(connection => GetEntriesAsync(connection, null, releaseId, cancellationToken), cancellationToken);

        public Task<IReadOnlyList<ReleaseTransitionRecord>> GetReleaseTransitionsAsync(string releaseId, CancellationToken cancellationToken) =>
            _database.ReadAsync(connection => GetTransitionsAsync(connection, releaseId, cancellationToken), cancellationToken);

        public Task<IReadOnlyList<ReleaseApprovalRecord>> GetReleaseApprovalsAsync(string releaseId, CancellationToken cancellationToken) =>
            _database.ReadAsync(connection => GetApprovalsAsync(connection, releaseId, cancellationToken), cancellationToken);

        public Task<IReadOnlyList<ReleaseRunRecord>> GetReleaseRunsAsync(string releaseId, CancellationToken cancellationToken) =>
            _database.ReadAsync(connection => GetRunsAsync(connection, releaseId, cancellationToken), cancellationToken);

        public Task<ReleaseChange> TransitionReleaseAsync(ReleaseTransition transition, CancellationToken cancellationToken) =>
            _database.WriteAsync((connection, transaction, now) => TransitionAsync(connection, transaction, now, transition ?? throw new ArgumentNullException(nameof(transition)),
                cancellationToken), cancellationToken);

        public Task<ReleaseChange> EditReleaseAsync(ReleaseEdit edit, CancellationToken cancellationToken) =>
            _database.WriteAsync((connection, transaction, now) => EditAsync(connection, transaction, now, edit ?? throw new ArgumentNullException(nameof(edit)), cancellationToken),
                cancellationToken);

        public Task<ReleaseChange> ApproveReleaseAsync(ReleaseApproval approval, CancellationToken cancellationToken) =>
            _database.WriteAsync((connection, transaction, now) => ApproveAsync(connection, transaction, now, approval ?? throw new ArgumentNullException(nameof(approval)),
                cancellationToken), cancellationToken);

        public Task<ReleaseRunRecord> AddReleaseRunAsync(ReleaseRunRecord run, CancellationToken cancellationToken) =>
            _database.WriteAsync((connection, transaction, _) => AddRunAsync(connection, transaction, run ?? throw new ArgumentNullException(nameof(run)), cancellationToken),
                cancellationToken);

        public Task UpdateReleaseRunAsync(ReleaseRunRecord run, CancellationToken cancellationToken) =>
            _database.WriteAsync(async (connection, transaction, _) =>
            {
                await UpdateRunAsync(connection, transaction, run ?? throw new ArgumentNullException(nameof(run)), cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken);

        public Task<ReleasePolicy> GetReleasePolicyAsync(CancellationToken cancellationToken) =>
            _database.ReadAsync(connection => GetPolicyAsync(connection, cancellationToken), cancellationToken);

        public Task SetReleasePolicyAsync(ReleasePolicy policy, CancellationToken cancellationToken) =>
            _database.WriteAsync(async (connection, transaction, _) =>
            {
                await SetPolicyAsync(connection, transaction, policy ?? throw new ArgumentNullException(nameof(policy)), cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken);

        public Task<LifecycleLeaseClaim> TryClaimLifecycleLeaseAsync(string name, string holderId, TimeSpan duration, CancellationToken cancellationToken) =>
            _database.WriteAsync((connection, transaction, now) => ClaimLeaseAsync(connection, transaction, now, name, holderId, duration, cancellationToken), cancellationToken);

        public Task ReleaseLifecycleLeaseAsync(string name, string holderId, CancellationToken cancellationToken) =>
            _database.WriteAsync(async (connection, transaction, _) =>
            {
                await ReleaseLeaseAsync(connection, transaction, name, holderId, cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken);

        public Task<LifecycleLease?> GetLifecycleLeaseAsync(string name, CancellationToken cancellationToken) =>
            _database.ReadAsync(connection => GetLeaseAsync(connection, null, name, cancellationToken), cancellationToken);

        // Reads ----------------------------------------------------------------------------------------------------

        private async Task<ReleaseRecord?> GetReleaseAsync(DbConnection connection, DbTransaction? transaction, string releaseId, bool forUpdate, CancellationToken cancellationToken)
        {
            using var command = Command(connection, transaction, "SELECT " + ReleaseColumns + " FROM releases WHERE release_id = @id" + (forUpdate ? _lockRow : ""))
                .Bind("@id", releaseId);
            var found = await ListAsync(command, ReadRelease, cancellationToken).ConfigureAwait(false);
            return found.Count == 0 ? null : found[0];
        }

        private async Task<IReadOnlyList<ReleaseRecord>> FindReleasesAsync(DbConnection connection, ReleaseQuery query, CancellationToken cancellationToken)
        {
            var sql = "SELECT " + ReleaseColumns + " FROM releases";
            var where = new List<string>();
            if (!string.IsNullOrEmpty(query.ReleaseId))
            {
                where.Add("release_id = @id");
            }

            if (query.States != null && query.States.Count > 0)
            {
                // The states are our own enum's integers, so they are written into the SQL rather than bound as a list
                // (which the two providers bind differently).
                where.Add("state IN (" + string.Join(", ", query.States.Select(s => ((int)s).ToString(System.Globalization.CultureInfo.InvariantCulture))) + ")");
            }

            if (where.Count > 0)
            {
                sql += " WHERE " + string.Join(" AND ", where);
            }

            sql += " ORDER BY created_at DESC, release_id DESC";
            if (query.Limit > 0)
            {
                sql += " LIMIT " + query.Limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            using var command = Command(connection, null, sql);
            if (!string.IsNullOrEmpty(query.ReleaseId))
            {
                command.Bind("@id", query.ReleaseId);
            }

            return await ListAsync(command, ReadRelease, cancellationToken).ConfigureAwait(false);
        }

        private async Task<IReadOnlyList<ReleaseEntry>> GetEntriesAsync(DbConnection connection, DbTransaction? transaction, string releaseId, CancellationToken cancellationToken)
        {
            using var entries = Command(connection, transaction, "SELECT " + EntryColumns + " FROM release_entries WHERE release_id = @id ORDER BY position, service")
                .Bind("@id", releaseId);
            var list = await ListAsync(entries, ReadEntry, cancellationToken).ConfigureAwait(false);
            using var snapshots = Command(connection, transaction,
                "SELECT service, environment, digest, file_name FROM release_config_snapshots WHERE release_id = @id ORDER BY service, environment")
                .Bind("@id", releaseId);
            var frozen = await ListAsync(snapshots, r => (Service: r.GetString(0), Snapshot: new ReleaseConfigSnapshot
            {
                Environment = r.GetString(1),
                Digest = r.GetString(2),
                FileName = r.GetString(3),
            }), cancellationToken).ConfigureAwait(false);
            return list.Select(entry => entry with
            {
                Snapshots = frozen.Where(f => string.Equals(f.Service, entry.Service, StringComparison.OrdinalIgnoreCase)).Select(f => f.Snapshot).ToList(),
            }).ToList();
        }

        private async Task<IReadOnlyList<ReleaseTransitionRecord>> GetTransitionsAsync(DbConnection connection, string releaseId, CancellationToken cancellationToken)
        {
            using var command = Command(connection, null, "SELECT " + TransitionColumns + " FROM release_transitions WHERE release_id = @id ORDER BY sequence")
                .Bind("@id", releaseId);
            return await ListAsync(command, ReadTransition, cancellationToken).ConfigureAwait(false);
        }

        private async Task<IReadOnlyList<ReleaseApprovalRecord>> GetApprovalsAsync(DbConnection connection, string releaseId, CancellationToken cancellationToken)
        {
            using var command = Command(connection, null,
                "SELECT release_id, revision, approver, comment, recorded_at FROM release_approvals WHERE release_id = @id ORDER BY recorded_at, approver")
                .Bind("@id", releaseId);
            return await ListAsync(command, r => new ReleaseApprovalRecord
            {
                ReleaseId = r.GetString(0),
                Revision = r.GetInt32(1),
                Approver = r.GetString(2),
                Comment = r.NullableString(3),
                RecordedAt = r.Time(4),
            }, cancellationToken).ConfigureAwait(false);
        }

        private async Task<IReadOnlyList<ReleaseRunRecord>> GetRunsAsync(DbConnection connection, string releaseId, CancellationToken cancellationToken)
        {
            using var command = Command(connection, null, "SELECT " + RunColumns + " FROM release_runs WHERE release_id = @id ORDER BY sequence").Bind("@id", releaseId);
            return await ListAsync(command, ReadRun, cancellationToken).ConfigureAwait(false);
        }

        private async Task<ReleasePolicy> GetPolicyAsync(DbConnection connection, CancellationToken cancellationToken)
        {
            using var command = Command(connection, null, "SELECT key, value FROM releasetools_store WHERE key IN (@required, @self, @approvers)")
                .Bind("@required", PolicyRequiredKey).Bind("@self", PolicySelfKey).Bind("@approvers", PolicyApproversKey);
            var values = (await ListAsync(command, r => (Key: r.GetString(0), Value: r.GetString(1)), cancellationToken).ConfigureAwait(false))
                .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            var policy = new ReleasePolicy();
            if (values.TryGetValue(PolicyRequiredKey, out var required) && int.TryParse(required, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var count))
            {
                policy = policy with { RequiredApprovals = count };
            }

            if (values.TryGetValue(PolicySelfKey, out var self))
            {
                policy = policy with { AllowSelfApproval = self == "true" };
            }

            if (values.TryGetValue(PolicyApproversKey, out var approvers))
            {
                policy = policy with { Approvers = JsonSerializer.Deserialize<string[]>(approvers) ?? Array.Empty<string>() };
            }

            return policy;
        }

        private async Task<LifecycleLease?> GetLeaseAsync(DbConnection connection, DbTransaction? transaction, string name, CancellationToken cancellationToken)
        {
            using var command = Command(connection, transaction, "SELECT " + LeaseColumns + " FROM lifecycle_leases WHERE name = @name").Bind("@name", name);
            var found = await ListAsync(command, ReadLease, cancellationToken).ConfigureAwait(false);
            return found.Count == 0 ? null : found[0];
        }

        // Writes (inside the caller's transaction) -------------------------------------------------------------------

        private async Task<ReleaseRecord> CreateAsync(DbConnection connection, DbTransaction transaction, DateTimeOffset now, NewRelease release,
            IReadOnlyList<ReleaseEntry> entries, CancellationToken cancellationToken)
        {
            var record = new ReleaseRecord
            {
                ReleaseId = DeploymentIds.New(now, 'r'),
                Name = release.Name,
                Description = release.Description,
                PreEnvironment = release.PreEnvironment,
                ProdEnvironment = release.ProdEnvironment,
                State = ReleaseState.PendingReview,
                Revision = 1,
                CreatedBy = release.CreatedBy,
                CreatedAt = now,
                UpdatedAt = now,
            };
            using (var insert = Command(connection, transaction,
                "INSERT INTO releases (" + ReleaseColumns + ") VALUES (@id, @name, @description, @pre, @prod, @state, @revision, @by, @now, @now)"))
            {
                insert.Bind("@id", record.ReleaseId).Bind("@name", record.Name).Bind("@description", record.Description).Bind("@pre", record.PreEnvironment)
                    .Bind("@prod", record.ProdEnvironment).Bind("@state", (int)record.State).Bind("@revision", record.Revision).Bind("@by", record.CreatedBy)
                    .Bind("@now", StoreValues.ToUnixMs(now));
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var position = 0;
            foreach (var entry in entries)
            {
                await UpsertEntryAsync(connection, transaction, record.ReleaseId, entry, position++, cancellationToken).ConfigureAwait(false);
            }

            await InsertTransitionAsync(connection, transaction, record.ReleaseId, ReleaseStateMachine.CreatedEventName, null, ReleaseState.PendingReview,
                release.CreatedBy, release.Comment, now, cancellationToken).ConfigureAwait(false);
            return record;
        }

        private async Task<ReleaseChange> TransitionAsync(DbConnection connection, DbTransaction transaction, DateTimeOffset now, ReleaseTransition transition, CancellationToken cancellationToken)
        {
            var current = await GetReleaseAsync(connection, transaction, transition.ReleaseId, forUpdate: true, cancellationToken).ConfigureAwait(false);
            if (current == null)
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.NotFound };
            }

            if (current.State != transition.From)
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.StateChanged, Release = current };
            }

            if (transition.Revision.HasValue && current.Revision != transition.Revision.Value)
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.RevisionChanged, Release = current };
            }

            if (!await MoveAsync(connection, transaction, current, transition.To, now, raiseRevision: false, cancellationToken).ConfigureAwait(false))
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.StateChanged, Release = await GetReleaseAsync(connection, transaction, transition.ReleaseId, false, cancellationToken).ConfigureAwait(false) };
            }

            foreach (var frozen in transition.Freeze ?? Array.Empty<FrozenEntry>())
            {
                using (var checksum = Command(connection, transaction, "UPDATE release_entries SET checksum = @checksum WHERE release_id = @id AND service = @service"))
                {
                    checksum.Bind("@checksum", frozen.Checksum).Bind("@id", current.ReleaseId).Bind("@service", frozen.Service);
                    await checksum.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                using var snapshot = Command(connection, transaction,
                    "INSERT INTO release_config_snapshots (release_id, service, environment, digest, file_name) VALUES (@id, @service, @environment, @digest, @file)");
                foreach (var config in frozen.Snapshots)
                {
                    snapshot.Bind("@id", current.ReleaseId).Bind("@service", frozen.Service).Bind("@environment", config.Environment)
                        .Bind("@digest", config.Digest).Bind("@file", config.FileName);
                    await snapshot.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            var row = await InsertTransitionAsync(connection, transaction, current.ReleaseId, transition.Event, current.State, transition.To, transition.Actor,
                transition.Comment, now, cancellationToken).ConfigureAwait(false);
            return new ReleaseChange { Release = current with { State = transition.To, UpdatedAt = now }, Transition = row };
        }

        private async Task<ReleaseChange> EditAsync(DbConnection connection, DbTransaction transaction, DateTimeOffset now, ReleaseEdit edit, CancellationToken cancellationToken)
        {
            var current = await GetReleaseAsync(connection, transaction, edit.ReleaseId, forUpdate: true, cancellationToken).ConfigureAwait(false);
            if (current == null)
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.NotFound };
            }

            if (current.State != ReleaseState.PendingReview && current.State != ReleaseState.Approved)
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.Frozen, Release = current };
            }

            var existing = await GetEntriesAsync(connection, transaction, edit.ReleaseId, cancellationToken).ConfigureAwait(false);
            foreach (var service in edit.RemoveServices)
            {
                if (!existing.Any(e => string.Equals(e.Service, service, StringComparison.OrdinalIgnoreCase)))
                {
                    return new ReleaseChange { Refusal = ReleaseChangeRefusal.EntryNotFound, Release = current, Detail = service };
                }

                using var delete = Command(connection, transaction, "DELETE FROM release_entries WHERE release_id = @id AND service = @service")
                    .Bind("@id", edit.ReleaseId).Bind("@service", service);
                await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var position = existing.Count;
            foreach (var entry in edit.Upserts)
            {
                await UpsertEntryAsync(connection, transaction, edit.ReleaseId, entry, position++, cancellationToken).ConfigureAwait(false);
            }

            var updated = current with
            {
                Name = edit.Name ?? current.Name,
                Description = edit.Description ?? current.Description,
                PreEnvironment = edit.PreEnvironment ?? current.PreEnvironment,
                ProdEnvironment = edit.ProdEnvironment ?? current.ProdEnvironment,
            };
            using (var fields = Command(connection, transaction,
                "UPDATE releases SET name = @name, description = @description, pre_environment = @pre, prod_environment = @prod WHERE release_id = @id"))
            {
                fields.Bind("@name", updated.Name).Bind("@description", updated.Description).Bind("@pre", updated.PreEnvironment)
                    .Bind("@prod", updated.ProdEnvironment).Bind("@id", updated.ReleaseId);
                await fields.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            // Approvals bind to content: whatever was approved is no longer what the release holds.
            await MoveAsync(connection, transaction, current, ReleaseState.PendingReview, now, raiseRevision: true, cancellationToken).ConfigureAwait(false);
            ReleaseTransitionRecord? row = null;
            if (current.State == ReleaseState.Approved)
            {
                row = await InsertTransitionAsync(connection, transaction, current.ReleaseId, ReleaseStateMachine.EditedEventName, ReleaseState.Approved,
                    ReleaseState.PendingReview, edit.Actor, edit.Comment ?? "The content changed after approval; it needs approval again.", now, cancellationToken).ConfigureAwait(false);
            }

            return new ReleaseChange
            {
                Release = updated with { State = ReleaseState.PendingReview, Revision = current.Revision + 1, UpdatedAt = now },
                Transition = row,
            };
        }

        private async Task<ReleaseChange> ApproveAsync(DbConnection connection, DbTransaction transaction, DateTimeOffset now, ReleaseApproval approval, CancellationToken cancellationToken)
        {
            var current = await GetReleaseAsync(connection, transaction, approval.ReleaseId, forUpdate: true, cancellationToken).ConfigureAwait(false);
            if (current == null)
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.NotFound };
            }

            if (current.State != ReleaseState.PendingReview)
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.StateChanged, Release = current };
            }

            if (current.Revision != approval.Revision)
            {
                return new ReleaseChange { Refusal = ReleaseChangeRefusal.RevisionChanged, Release = current };
            }

            using (var insert = Command(connection, transaction,
                "INSERT INTO release_approvals (release_id, revision, approver, comment, recorded_at) VALUES (@id, @revision, @approver, @comment, @now) " +
                "ON CONFLICT (release_id, revision, approver) DO NOTHING"))
            {
                insert.Bind("@id", current.ReleaseId).Bind("@revision", current.Revision).Bind("@approver", approval.Approver).Bind("@comment", approval.Comment)
                    .Bind("@now", StoreValues.ToUnixMs(now));
                if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                {
                    return new ReleaseChange { Refusal = ReleaseChangeRefusal.AlreadyApproved, Release = current };
                }
            }

            int approvals;
            using (var count = Command(connection, transaction, "SELECT count(*) FROM release_approvals WHERE release_id = @id AND revision = @revision")
                .Bind("@id", current.ReleaseId).Bind("@revision", current.Revision))
            {
                approvals = Convert.ToInt32(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            }

            if (approvals < Math.Max(1, approval.RequiredApprovals))
            {
                return new ReleaseChange { Release = current, Approvals = approvals };
            }

            await MoveAsync(connection, transaction, current, ReleaseState.Approved, now, raiseRevision: false, cancellationToken).ConfigureAwait(false);
            var comment = approvals > 1 ? $"{approval.Comment?.Trim()} ({approvals} approvals)".Trim() : approval.Comment;
            var row = await InsertTransitionAsync(connection, transaction, current.ReleaseId, ReleaseStateMachine.NameOf(ReleaseEvent.Approve), ReleaseState.PendingReview,
                ReleaseState.Approved, approval.Approver, comment, now, cancellationToken).ConfigureAwait(false);
            return new ReleaseChange { Release = current with { State = ReleaseState.Approved, UpdatedAt = now }, Transition = row, Approvals = approvals };
        }

        private async Task<ReleaseRunRecord> AddRunAsync(DbConnection connection, DbTransaction transaction, ReleaseRunRecord run, CancellationToken cancellationToken)
        {
            using var insert = Command(connection, transaction,
                "INSERT INTO release_runs (release_id, transition, stage, service, environment, deployment_id, status, error, started_at, ended_at) " +
                "VALUES (@id, @transition, @stage, @service, @environment, @deployment, @status, @error, @started, @ended) RETURNING sequence");
            insert.Bind("@id", run.ReleaseId).Bind("@transition", run.TransitionSequence).Bind("@stage", StoreValues.ToText(run.Stage)).Bind("@service", run.Service).Bind("@environment", run.Environment)
                .Bind("@deployment", run.DeploymentId).Bind("@status", StoreValues.ToText(run.Status)).Bind("@error", run.Error)
                .Bind("@started", StoreValues.ToUnixMs(run.StartedAt)).Bind("@ended", StoreValues.ToDb(run.EndedAt));
            var sequence = Convert.ToInt64(await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            return run with { Sequence = sequence };
        }

        private async Task UpdateRunAsync(DbConnection connection, DbTransaction transaction, ReleaseRunRecord run, CancellationToken cancellationToken)
        {
            using var update = Command(connection, transaction,
                "UPDATE release_runs SET deployment_id = @deployment, status = @status, error = @error, ended_at = @ended WHERE sequence = @sequence");
            update.Bind("@deployment", run.DeploymentId).Bind("@status", StoreValues.ToText(run.Status)).Bind("@error", run.Error)
                .Bind("@ended", StoreValues.ToDb(run.EndedAt)).Bind("@sequence", run.Sequence);
            await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        private async Task SetPolicyAsync(DbConnection connection, DbTransaction transaction, ReleasePolicy policy, CancellationToken cancellationToken)
        {
            using var upsert = Command(connection, transaction,
                "INSERT INTO releasetools_store (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
            foreach (var (key, value) in new[]
            {
                (PolicyRequiredKey, policy.RequiredApprovals.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                (PolicySelfKey, policy.AllowSelfApproval ? "true" : "false"),
                (PolicyApproversKey, JsonSerializer.Serialize(policy.Approvers)),
            })
            {
                upsert.Bind("@key", key).Bind("@value", value);
                await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        private async Task<LifecycleLeaseClaim> ClaimLeaseAsync(DbConnection connection, DbTransaction transaction, DateTimeOffset now, string name, string holderId,
            TimeSpan duration, CancellationToken cancellationToken)
        {
            var self = ProcessIdentity.Current(holderId);
            using (var claim = Command(connection, transaction,
                "INSERT INTO lifecycle_leases (" + LeaseColumns + ") VALUES (@name, @holder, @host, @pid, @now, @expires) " +
                "ON CONFLICT (name) DO UPDATE SET holder_id = excluded.holder_id, host_name = excluded.host_name, process_id = excluded.process_id, " +
                "acquired_at = CASE WHEN lifecycle_leases.holder_id = excluded.holder_id THEN lifecycle_leases.acquired_at ELSE excluded.acquired_at END, " +
                "expires_at = excluded.expires_at " +
                "WHERE lifecycle_leases.holder_id = excluded.holder_id OR lifecycle_leases.expires_at <= excluded.acquired_at"))
            {
                claim.Bind("@name", name).Bind("@holder", holderId).Bind("@host", self.HostName).Bind("@pid", self.ProcessId)
                    .Bind("@now", StoreValues.ToUnixMs(now)).Bind("@expires", StoreValues.ToUnixMs(now + duration));
                var won = await claim.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
                var holder = await GetLeaseAsync(connection, transaction, name, cancellationToken).ConfigureAwait(false);
                return new LifecycleLeaseClaim { Acquired = won, Holder = holder };
            }
        }

        private async Task ReleaseLeaseAsync(DbConnection connection, DbTransaction transaction, string name, string holderId, CancellationToken cancellationToken)
        {
            using var delete = Command(connection, transaction, "DELETE FROM lifecycle_leases WHERE name = @name AND holder_id = @holder")
                .Bind("@name", name).Bind("@holder", holderId);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // Helpers --------------------------------------------------------------------------------------------------

        /// <summary>The conditional update itself: only from the state the release was read in.</summary>
        private static async Task<bool> MoveAsync(DbConnection connection, DbTransaction transaction, ReleaseRecord current, ReleaseState to, DateTimeOffset now,
            bool raiseRevision, CancellationToken cancellationToken)
        {
            using var update = Command(connection, transaction,
                "UPDATE releases SET state = @to, updated_at = @now" + (raiseRevision ? ", revision = revision + 1" : "") + " WHERE release_id = @id AND state = @from AND revision = @revision");
            update.Bind("@to", (int)to).Bind("@now", StoreValues.ToUnixMs(now)).Bind("@id", current.ReleaseId).Bind("@from", (int)current.State)
                .Bind("@revision", current.Revision);
            return await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
        }

        private static async Task UpsertEntryAsync(DbConnection connection, DbTransaction transaction, string releaseId, ReleaseEntry entry, int position, CancellationToken cancellationToken)
        {
            using var upsert = Command(connection, transaction,
                "INSERT INTO release_entries (release_id, position, " + EntryColumns + ") VALUES (@id, @position, @service, @version, @url, @checksum, @local, @kind, @content, @file, @values) " +
                "ON CONFLICT (release_id, service) DO UPDATE SET version = excluded.version, package_url = excluded.package_url, checksum = excluded.checksum, " +
                "allow_local_package = excluded.allow_local_package, config_kind = excluded.config_kind, config_content = excluded.config_content, " +
                "config_file_name = excluded.config_file_name, config_values = excluded.config_values");
            upsert.Bind("@id", releaseId).Bind("@position", position).Bind("@service", entry.Service).Bind("@version", entry.Version).Bind("@url", entry.PackageUrl)
                .Bind("@checksum", entry.Checksum).Bind("@local", entry.AllowLocalPackage).Bind("@kind", StoreValues.ToText(entry.ConfigKind))
                .Bind("@content", entry.ConfigContent).Bind("@file", entry.ConfigFileName)
                .Bind("@values", JsonSerializer.Serialize(new SortedDictionary<string, string>(entry.ConfigValues.ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal)));
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        private static async Task<ReleaseTransitionRecord> InsertTransitionAsync(DbConnection connection, DbTransaction transaction, string releaseId, string eventName,
            ReleaseState? from, ReleaseState to, string actor, string? comment, DateTimeOffset now, CancellationToken cancellationToken)
        {
            using var insert = Command(connection, transaction,
                "INSERT INTO release_transitions (release_id, event, from_state, to_state, actor, comment, recorded_at) VALUES (@id, @event, @from, @to, @actor, @comment, @now) RETURNING sequence");
            insert.Bind("@id", releaseId).Bind("@event", eventName).Bind("@from", from.HasValue ? (object)(int)from.Value : null).Bind("@to", (int)to)
                .Bind("@actor", actor).Bind("@comment", string.IsNullOrWhiteSpace(comment) ? null : comment!.Trim()).Bind("@now", StoreValues.ToUnixMs(now));
            var sequence = Convert.ToInt64(await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            return new ReleaseTransitionRecord
            {
                Sequence = sequence,
                ReleaseId = releaseId,
                Event = eventName,
                From = from,
                To = to,
                Actor = actor,
                Comment = string.IsNullOrWhiteSpace(comment) ? null : comment!.Trim(),
                RecordedAt = StoreValues.FromUnixMs(StoreValues.ToUnixMs(now)),
            };
        }

        private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
        {
            var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            return command;
        }

        private static async Task<IReadOnlyList<T>> ListAsync<T>(DbCommand command, Func<DbDataReader, T> map, CancellationToken cancellationToken)
        {
            var result = new List<T>();
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(map(reader));
            }

            return result;
        }

        private static ReleaseRecord ReadRelease(DbDataReader r) => new ReleaseRecord
        {
            ReleaseId = r.GetString(0),
            Name = r.GetString(1),
            Description = r.NullableString(2),
            PreEnvironment = r.GetString(3),
            ProdEnvironment = r.GetString(4),
            State = (ReleaseState)r.GetInt32(5),
            Revision = r.GetInt32(6),
            CreatedBy = r.GetString(7),
            CreatedAt = r.Time(8),
            UpdatedAt = r.Time(9),
        };

        private static ReleaseEntry ReadEntry(DbDataReader r) => new ReleaseEntry
        {
            Service = r.GetString(0),
            Version = r.GetString(1),
            PackageUrl = r.GetString(2),
            Checksum = r.NullableString(3),
            AllowLocalPackage = r.GetBoolean(4),
            ConfigKind = StoreValues.Parse<ReleaseConfigKind>(r.GetString(5)),
            ConfigContent = r.IsDBNull(6) ? null : (byte[])r.GetValue(6),
            ConfigFileName = r.NullableString(7),
            ConfigValues = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(8)) ?? new Dictionary<string, string>(),
        };

        private static ReleaseTransitionRecord ReadTransition(DbDataReader r) => new ReleaseTransitionRecord
        {
            Sequence = r.GetInt64(0),
            ReleaseId = r.GetString(1),
            Event = r.GetString(2),
            From = r.IsDBNull(3) ? (ReleaseState?)null : (ReleaseState)r.GetInt32(3),
            To = (ReleaseState)r.GetInt32(4),
            Actor = r.GetString(5),
            Comment = r.NullableString(6),
            RecordedAt = r.Time(7),
        };

        private static ReleaseRunRecord ReadRun(DbDataReader r) => new ReleaseRunRecord
        {
            Sequence = r.GetInt64(0),
            ReleaseId = r.GetString(1),
            TransitionSequence = r.GetInt64(2),
            Stage = StoreValues.Parse<ReleaseStage>(r.GetString(3)),
            Service = r.GetString(4),
            Environment = r.GetString(5),
            DeploymentId = r.NullableString(6),
            Status = StoreValues.Parse<ReleaseRunStatus>(r.GetString(7)),
            Error = r.NullableString(8),
            StartedAt = r.Time(9),
            EndedAt = r.NullableTime(10),
        };

        private static LifecycleLease ReadLease(DbDataReader r) => new LifecycleLease
        {
            Name = r.GetString(0),
            HolderId = r.GetString(1),
            HostName = r.GetString(2),
            ProcessId = r.GetInt32(3),
            AcquiredAt = r.Time(4),
            ExpiresAt = r.Time(5),
        };
    }

    internal static class LifecycleCommandExtensions
    {
        /// <summary>Binds a value by name (re-using the parameter in a loop), null as DBNull.</summary>
        public static DbCommand Bind(this DbCommand command, string name, object? value)
        {
            var index = command.Parameters.IndexOf(name);
            if (index >= 0)
            {
                command.Parameters[index].Value = value ?? DBNull.Value;
                return command;
            }

            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
            return command;
        }
    }
}
