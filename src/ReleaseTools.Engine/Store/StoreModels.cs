using System;
using System.Collections.Generic;

namespace ReleaseTools.Engine.Store
{
    /// <summary>What a caller supplies to add or update one service instance in the registry.</summary>
    public sealed record InstanceRegistration
    {
        public string InstanceId { get; init; } = "";
        public string Service { get; init; } = "";
        public string Environment { get; init; } = "";
        public string Host { get; init; } = "";
        public int Port { get; init; }
        public IReadOnlyList<string> Tags { get; init; } = Array.Empty<string>();
        /// <summary>Which of its agent's instances this is (Floyd 1.1, the <c>instance</c> parameter); null: the agent's default instance.</summary>
        public string? AgentInstance { get; init; }
        /// <summary>The agent is reached over HTTPS.</summary>
        public bool UseHttps { get; init; }
        /// <summary>SHA-256 fingerprint (64 lowercase hex digits) of the agent's TLS certificate to trust; null: the machine's trust store decides.</summary>
        public string? AgentCertificate { get; init; }
    }

    /// <summary>One registered service instance and what it runs now, as far as the store knows.</summary>
    public sealed record InstanceRecord
    {
        public string InstanceId { get; init; } = "";
        public string Service { get; init; } = "";
        public string Environment { get; init; } = "";
        public string Host { get; init; } = "";
        public int Port { get; init; }
        public IReadOnlyList<string> Tags { get; init; } = Array.Empty<string>();
        /// <summary>Null until the first release reaches the instance.</summary>
        public string? Version { get; init; }
        public string? FVersion { get; init; }
        public InstanceStatus Status { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
        /// <summary>Which of its agent's instances this is; null: the agent's default instance.</summary>
        public string? AgentInstance { get; init; }
        public bool UseHttps { get; init; }
        /// <summary>The pinned SHA-256 fingerprint of the agent's TLS certificate (lowercase hex), or null.</summary>
        public string? AgentCertificate { get; init; }
    }

    public enum InstanceStatus
    {
        Registered,
        Active,
        Failed,
        Unreachable,
    }

    /// <summary>Filter for instance queries; null members match everything, several values of one member match any.</summary>
    public sealed record InstanceQuery
    {
        public IReadOnlyList<string>? Services { get; init; }
        public IReadOnlyList<string>? Environments { get; init; }
        public IReadOnlyList<string>? InstanceIds { get; init; }
        public string? Version { get; init; }
    }

    public enum DeploymentOperation
    {
        Deploy,
        Rollback,
    }

    public enum DeploymentStatus
    {
        Pending,
        Running,
        Succeeded,
        Failed,
        PartiallySucceeded,
        Cancelled,
        Interrupted,
    }

    /// <summary>What the engine supplies to open a deployment (or rollback) record.</summary>
    public sealed record NewDeployment
    {
        public DeploymentOperation Operation { get; init; }
        public string Service { get; init; } = "";
        /// <summary>For a rollback with per-instance targets this is empty; each target carries its own version.</summary>
        public string TargetVersion { get; init; } = "";
        public string? PackageUrl { get; init; }
        public string? PackageMd5 { get; init; }
        public string? FVersion { get; init; }
        public string InitiatedBy { get; init; } = "";
        public string InitiatedFrom { get; init; } = "";
        public int BatchCount { get; init; }
        /// <summary>Opaque settings the engine needs to resume the run (failure policy, throttle, config digest...).</summary>
        public string? ParametersJson { get; init; }
        /// <summary>
        /// Set when this run resumes an earlier one. Creating the record marks the earlier run ResumedBy this one, in the
        /// same transaction; an earlier run that was already resumed cannot be resumed again.
        /// </summary>
        public string? ResumedFrom { get; init; }
    }

    public sealed record DeploymentRecord
    {
        public string DeploymentId { get; init; } = "";
        public DeploymentOperation Operation { get; init; }
        public string Service { get; init; } = "";
        public string TargetVersion { get; init; } = "";
        public string? PackageUrl { get; init; }
        public string? PackageMd5 { get; init; }
        public string? FVersion { get; init; }
        public string InitiatedBy { get; init; } = "";
        public string InitiatedFrom { get; init; } = "";
        public int BatchCount { get; init; }
        public string? ParametersJson { get; init; }
        public string? ResumedFrom { get; init; }
        /// <summary>
        /// The run that resumed this one. Its final status is then this run's status too, while this run's targets keep
        /// what happened in it.
        /// </summary>
        public string? ResumedBy { get; init; }
        public DeploymentStatus Status { get; init; }
        public int TotalTargets { get; init; }
        /// <summary>Targets that reached their release so far (Unchanged included); kept current while the run works.</summary>
        public int SucceededTargets { get; init; }
        /// <summary>Targets that failed so far (Unreachable included).</summary>
        public int FailedTargets { get; init; }
        public int SkippedTargets { get; init; }
        public int CancelledTargets { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? StartedAt { get; init; }
        public DateTimeOffset? EndedAt { get; init; }
    }

    public sealed record DeploymentQuery
    {
        public string? DeploymentId { get; init; }
        public IReadOnlyList<string>? Services { get; init; }
        public IReadOnlyList<DeploymentStatus>? Statuses { get; init; }
        /// <summary>Newest first; at most this many.</summary>
        public int Limit { get; init; } = 50;
    }

    public enum TargetStatus
    {
        Pending,
        Running,
        Succeeded,
        /// <summary>The agent already ran the target release; nothing was transferred.</summary>
        Unchanged,
        Failed,
        /// <summary>The agent could not be reached at all (connection refused, DNS, timeout before any answer).</summary>
        Unreachable,
        /// <summary>Never attempted: an earlier batch breached the failure policy.</summary>
        Skipped,
        Cancelled,
        /// <summary>Succeeded, then returned to its previous release by the Rollback failure policy.</summary>
        RolledBack,
        /// <summary>Pending or running when its deployment's owner died or lost its leases; the outcome on the instance is unknown.</summary>
        Interrupted,
        /// <summary>Left alone by a resume: another run moved the instance after this run recorded it, so this run no longer owes it.</summary>
        Superseded,
    }

    /// <summary>One instance inside one deployment.</summary>
    public sealed record DeploymentTargetRecord
    {
        public string DeploymentId { get; init; } = "";
        public string InstanceId { get; init; } = "";
        public string Service { get; init; } = "";
        public string Environment { get; init; } = "";
        public int Batch { get; init; }
        /// <summary>Version this target moves to; differs per target in a rollback.</summary>
        public string TargetVersion { get; init; } = "";
        public string? TargetFVersion { get; init; }
        public string? FromVersion { get; init; }
        public string? FromFVersion { get; init; }
        public TargetStatus Status { get; init; }
        public int Attempts { get; init; }
        public bool PackageTransferred { get; init; }
        public bool ConfigTransferred { get; init; }
        /// <summary>The Floyd step that failed (ping, package, config, activate, verify), if any.</summary>
        public string? FailedStep { get; init; }
        public string? Error { get; init; }
        public DateTimeOffset? StartedAt { get; init; }
        public DateTimeOffset? EndedAt { get; init; }
    }

    /// <summary>What a history row records: a release the instance reached, or an attempt its agent undid.</summary>
    public enum HistoryOutcome
    {
        /// <summary>The instance ran this release from then on (until the next released row).</summary>
        Released,
        /// <summary>
        /// The agent installed this release, a hook or the health gate failed, and it switched back: the instance stayed on
        /// the previous version. Never an instance's current or previous release (rollback, resume, config keep and
        /// checksum checks read only released rows).
        /// </summary>
        Reverted,
    }

    /// <summary>
    /// One move of one instance to a release (enough to roll back to it later, config included), or one attempt at a move
    /// that the agent reverted (<see cref="Outcome"/> Reverted).
    /// </summary>
    public sealed record VersionHistoryRecord
    {
        public long Sequence { get; init; }
        public string InstanceId { get; init; } = "";
        public string Service { get; init; } = "";
        public string Environment { get; init; } = "";
        public string Version { get; init; } = "";
        public string FVersion { get; init; } = "";
        public string? PreviousVersion { get; init; }
        public string? PreviousFVersion { get; init; }
        public string DeploymentId { get; init; } = "";
        public DeploymentOperation Operation { get; init; }
        public string? PackageUrl { get; init; }
        public string? PackageMd5 { get; init; }
        /// <summary>MD5 (lowercase hex) of the rendered config; its bytes are kept as a config snapshot.</summary>
        public string? ConfigDigest { get; init; }
        public string? ConfigFileName { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
        public HistoryOutcome Outcome { get; init; } = HistoryOutcome.Released;
        /// <summary>For a reverted attempt, the agent's failed step (beforeActivate, activate, afterActivate, healthCheck, unpack).</summary>
        public string? FailedCheck { get; init; }
    }

    /// <summary>Filter for history across instances of a service, newest first: the releases a service and environment received.</summary>
    public sealed record HistoryQuery
    {
        public string Service { get; init; } = "";
        /// <summary>Null matches every environment.</summary>
        public string? Environment { get; init; }
        /// <summary>Null matches every version.</summary>
        public string? Version { get; init; }
        /// <summary>At most this many rows; 0 or less means all.</summary>
        public int Limit { get; init; } = 50;
    }

    /// <summary>A successful move of one target, written in one transaction with the instance update and the history row.</summary>
    public sealed record ReleaseOutcome
    {
        public string DeploymentId { get; init; } = "";
        public string InstanceId { get; init; } = "";
        public DeploymentOperation Operation { get; init; }
        public string Version { get; init; } = "";
        public string FVersion { get; init; } = "";
        public string? PackageUrl { get; init; }
        public string? PackageMd5 { get; init; }
        public string? ConfigDigest { get; init; }
        public string? ConfigFileName { get; init; }
        public TargetStatus TargetStatus { get; init; } = TargetStatus.Succeeded;
        public int Attempts { get; init; }
        public bool PackageTransferred { get; init; }
        public bool ConfigTransferred { get; init; }
        public DateTimeOffset? StartedAt { get; init; }
        public DateTimeOffset EndedAt { get; init; }
        /// <summary>
        /// What the instance ran before the run, as the engine learnt it from the agent: written to the target with the rest of
        /// the outcome, so a run's release costs one write. Null keeps what the target says, or the registry's version when
        /// it says nothing.
        /// </summary>
        public string? FromVersion { get; init; }
        /// <inheritdoc cref="FromVersion"/>
        public string? FromFVersion { get; init; }
    }

    /// <summary>
    /// One write of a run's target, either a change of its state (<see cref="IReleaseStore.UpdateTargetAsync"/>) or the
    /// release it reached (<see cref="IReleaseStore.RecordReleaseAsync"/>): what <see cref="IReleaseStore.WriteTargetsAsync"/>
    /// commits several of at once.
    /// </summary>
    public sealed class TargetWrite
    {
        private TargetWrite(DeploymentTargetRecord? state, ReleaseOutcome? release)
        {
            State = state;
            Release = release;
        }

        /// <summary>The target's whole state, written as it stands (running, failed, skipped...); null for a release.</summary>
        public DeploymentTargetRecord? State { get; }

        /// <summary>The release the target reached; null for a change of state.</summary>
        public ReleaseOutcome? Release { get; }

        public string DeploymentId => State?.DeploymentId ?? Release!.DeploymentId;
        public string InstanceId => State?.InstanceId ?? Release!.InstanceId;

        public static TargetWrite Of(DeploymentTargetRecord state) => new TargetWrite(state ?? throw new ArgumentNullException(nameof(state)), null);

        public static TargetWrite Of(ReleaseOutcome release) => new TargetWrite(null, release ?? throw new ArgumentNullException(nameof(release)));
    }

    /// <summary>
    /// A release the agent installed and then undid (a hook or the health gate failed and it switched back): written with the
    /// failed target in one transaction, as a Reverted history row that leaves the instance on its previous release.
    /// </summary>
    public sealed record RevertedAttempt
    {
        public DeploymentOperation Operation { get; init; }
        public string Version { get; init; } = "";
        public string FVersion { get; init; } = "";
        public string? PackageUrl { get; init; }
        public string? PackageMd5 { get; init; }
        public string? ConfigDigest { get; init; }
        public string? ConfigFileName { get; init; }
        public string? FailedCheck { get; init; }
    }

    /// <summary>Who holds (or asks for) instance leases: enough for a human to find the run.</summary>
    public sealed record LeaseOwner
    {
        public string DeploymentId { get; init; } = "";
        public string HostName { get; init; } = "";
        public int ProcessId { get; init; }
        /// <summary>Start time of the owning process, so a reused process id is not mistaken for a live owner.</summary>
        public DateTimeOffset? ProcessStartedAt { get; init; }
    }

    public sealed record LeaseRecord
    {
        public string InstanceId { get; init; } = "";
        public LeaseOwner Owner { get; init; } = new LeaseOwner();
        /// <summary>
        /// Drawn from a store-wide sequence at each claim: a later claim of an instance always carries a larger token,
        /// so a writer holding an older token knows it is stale. 0 where the store predates fencing tokens.
        /// </summary>
        public long FencingToken { get; init; }
        public DateTimeOffset AcquiredAt { get; init; }
        public DateTimeOffset HeartbeatAt { get; init; }
        public DateTimeOffset ExpiresAt { get; init; }
    }

    /// <summary>Result of an all-or-nothing lease claim: either every instance was claimed, or none was and Conflicts says who holds them.</summary>
    public sealed record LeaseClaimResult
    {
        public bool Acquired { get; init; }
        /// <summary>The fencing token of this claim when Acquired (see <see cref="LeaseRecord.FencingToken"/>).</summary>
        public long FencingToken { get; init; }
        public IReadOnlyList<LeaseRecord> Conflicts { get; init; } = Array.Empty<LeaseRecord>();
    }

    public sealed record AuditEntry
    {
        public long Sequence { get; init; }
        public string DeploymentId { get; init; } = "";
        public string Kind { get; init; } = "";
        public string Message { get; init; } = "";
        public DateTimeOffset RecordedAt { get; init; }
    }

    /// <summary>
    /// What a heartbeat found: the instances whose leases it extended. An instance the run claimed but that is not in
    /// <see cref="Renewed"/> was lost (its lease expired and another run took it, it was force-released, or another
    /// process marked the run Interrupted): the run must stop touching it.
    /// </summary>
    public sealed record LeaseRenewal
    {
        public IReadOnlyList<string> Renewed { get; init; } = Array.Empty<string>();
    }
}
