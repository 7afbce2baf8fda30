using System;
using System.Collections.Generic;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>Receives a run's events. Called from worker threads: implementations must be thread-safe and must not block long.</summary>
    public interface IDeploymentObserver
    {
        void OnEvent(DeploymentEvent deploymentEvent);
    }

    public abstract record DeploymentEvent
    {
        public string DeploymentId { get; init; } = "";
        public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
    }

    public sealed record DeploymentStarted : DeploymentEvent
    {
        public DeploymentOperation Operation { get; init; }
        public int TotalTargets { get; init; }
        public int BatchCount { get; init; }
    }

    /// <summary>
    /// Package download progress (bytes so far; total when the server said). A deployment's package is fetched before
    /// its record exists, so those events carry an empty DeploymentId.
    /// </summary>
    public sealed record PackageProgress : DeploymentEvent
    {
        public string Source { get; init; } = "";
        public long BytesReceived { get; init; }
        public long? TotalBytes { get; init; }
        public bool FromCache { get; init; }
    }

    /// <summary>
    /// Package bytes sent to one instance's agent so far. Published at most every <see cref="Execution.ProgressThrottle.Interval"/> milliseconds
    /// per upload, and once when the last byte is sent.
    /// </summary>
    public sealed record PackageUploadProgress : DeploymentEvent
    {
        public string InstanceId { get; init; } = "";
        public int Batch { get; init; }
        public long BytesSent { get; init; }
        public long TotalBytes { get; init; }
    }

    public sealed record BatchStarted : DeploymentEvent
    {
        public int Batch { get; init; }
        public int InstanceCount { get; init; }
    }

    public sealed record InstanceStepStarted : DeploymentEvent
    {
        public string InstanceId { get; init; } = "";
        public int Batch { get; init; }
        /// <summary>ping, package, config, activate, verify, retry-wait.</summary>
        public string Step { get; init; } = "";
        public int Attempt { get; init; }
    }

    /// <summary>
    /// A target reached its final state in this run (Succeeded, Unchanged, Failed, Unreachable, Skipped, Cancelled,
    /// RolledBack or Superseded): published once per target. Under the Rollback failure policy a success is published
    /// when its batch has passed the policy, so a target the policy returns to its previous release is published once,
    /// as RolledBack.
    /// </summary>
    public sealed record InstanceCompleted : DeploymentEvent
    {
        public TargetResult Result { get; init; } = new TargetResult();
    }

    /// <summary>
    /// An instance left out of a run before anything was recorded: a rollback with nothing to go back to (an error), or
    /// one that has nothing to undo (not a problem). No DeploymentId: the instance is in no run.
    /// </summary>
    public sealed record InstanceRefused : DeploymentEvent
    {
        public InstanceRefusal Refusal { get; init; } = new InstanceRefusal();
    }

    public sealed record InstanceRefusal
    {
        public string InstanceId { get; init; } = "";
        public string Service { get; init; } = "";
        public string Environment { get; init; } = "";
        /// <summary>The version the instance runs, as the store knows it.</summary>
        public string? CurrentVersion { get; init; }
        /// <summary>NoPreviousRelease, ReleaseNotInHistory, RollbackTargetMoved, ConfigSnapshotMissing or RollbackNothingToUndo.</summary>
        public string ErrorId { get; init; } = "";
        public string Message { get; init; } = "";
        /// <summary>False when leaving the instance alone is what the user asked for (nothing to undo).</summary>
        public bool IsError { get; init; } = true;
    }

    /// <summary>One instance's health check finished (Test-ServiceInstance): published as soon as its agent answered or failed.</summary>
    public sealed record InstanceHealthChecked : DeploymentEvent
    {
        public InstanceHealthResult Result { get; init; } = new InstanceHealthResult();
        /// <summary>How many of <see cref="Total"/> are checked, this one included.</summary>
        public int Checked { get; init; }
        public int Total { get; init; }
    }

    public sealed record BatchCompleted : DeploymentEvent
    {
        public int Batch { get; init; }
        public int Succeeded { get; init; }
        public int Failed { get; init; }
        public int Unreachable { get; init; }
        /// <summary>The failure threshold was breached after this batch.</summary>
        public bool BreachedPolicy { get; init; }
    }

    public sealed record DeploymentWarning : DeploymentEvent
    {
        public string Message { get; init; } = "";
    }

    /// <summary>Something a user may want to know about how the run was prepared (which config is kept, which run is resumed); not a problem.</summary>
    public sealed record DeploymentNote : DeploymentEvent
    {
        public string Message { get; init; } = "";
    }

    public sealed record DeploymentFinished : DeploymentEvent
    {
        public DeploymentSummary Summary { get; init; } = new DeploymentSummary();
    }

    /// <summary>One instance's outcome in one run; the cmdlets turn it into pipeline output.</summary>
    public sealed record TargetResult
    {
        public string DeploymentId { get; init; } = "";
        public DeploymentOperation Operation { get; init; }
        public string InstanceId { get; init; } = "";
        public string Service { get; init; } = "";
        public string Environment { get; init; } = "";
        public int Batch { get; init; }
        public string? FromVersion { get; init; }
        public string ToVersion { get; init; } = "";
        public TargetStatus Status { get; init; }
        public bool Transferred { get; init; }
        public TimeSpan Duration { get; init; }
        public int Attempts { get; init; }
        public string? FailedStep { get; init; }
        public string? Error { get; init; }
        /// <summary>Stable id for the failure, e.g. FloydSignatureRejected, InstanceUnreachable, PackageChecksumMismatch.</summary>
        public string? ErrorId { get; init; }
        /// <summary>True when the service's health gate passed, false when it failed, null without a gate or before it.</summary>
        public bool? HealthGatePassed { get; init; }
        /// <summary>The agent's failed activation step: unpack, beforeActivate, activate, afterActivate or healthCheck.</summary>
        public string? FailedCheck { get; init; }
        /// <summary>The agent's account of the failure, with the hook's or check's last output.</summary>
        public string? AgentDetail { get; init; }
        /// <summary>The version the agent went back to after the failure; the instance runs it again.</summary>
        public string? RevertedTo { get; init; }
        /// <summary>Where the release's config came from (rendered template, ready file, kept from the last release, empty).</summary>
        public string? Config { get; init; }
    }

    public sealed record DeploymentSummary
    {
        public string DeploymentId { get; init; } = "";
        public DeploymentOperation Operation { get; init; }
        public DeploymentStatus Status { get; init; }
        public int Total { get; init; }
        public int Succeeded { get; init; }
        public int Unchanged { get; init; }
        public int Failed { get; init; }
        public int Unreachable { get; init; }
        public int Skipped { get; init; }
        public int RolledBack { get; init; }
        public int Cancelled { get; init; }
        public long PackageBytesSent { get; init; }
        public TimeSpan Duration { get; init; }
        public IReadOnlyList<TargetResult> Results { get; init; } = Array.Empty<TargetResult>();
        /// <summary>Instances left out before the run was recorded (see <see cref="InstanceRefused"/>).</summary>
        public IReadOnlyList<InstanceRefusal> Refused { get; init; } = Array.Empty<InstanceRefusal>();
    }

    /// <summary>A dry run: what a run would do, computed with read-only pings only.</summary>
    public sealed record DeploymentPlan
    {
        public DeploymentOperation Operation { get; init; }
        public string? PackageUrl { get; init; }
        /// <summary>Package size when known (HEAD, local file, cache).</summary>
        public long? PackageBytes { get; init; }
        /// <summary>Package bytes that would cross the network: size times instances that need the package.</summary>
        public long? BytesToSend { get; init; }
        public IReadOnlyList<PlannedBatch> Batches { get; init; } = Array.Empty<PlannedBatch>();
        /// <summary>What the plan could not check (for example the agents, without a signing key); empty when everything was checked.</summary>
        public IReadOnlyList<string> NotChecked { get; init; } = Array.Empty<string>();
    }

    public sealed record PlannedBatch
    {
        public int Batch { get; init; }
        public IReadOnlyList<PlannedTarget> Targets { get; init; } = Array.Empty<PlannedTarget>();
    }

    public enum PlannedAction
    {
        Change,
        AlreadyCurrent,
        Unreachable,
        HeldByOtherDeployment,
        /// <summary>Rollback only: the instance has no earlier release to go back to (Detail says why).</summary>
        NoPreviousRelease,
        /// <summary>Rollback of a piped result only: that deployment never moved the instance, so it is left alone.</summary>
        NothingToUndo,
    }

    public sealed record PlannedTarget
    {
        public string InstanceId { get; init; } = "";
        public string Service { get; init; } = "";
        public string Environment { get; init; } = "";
        public string? CurrentVersion { get; init; }
        public string TargetVersion { get; init; } = "";
        public PlannedAction Action { get; init; }
        public bool NeedsPackage { get; init; }
        public bool NeedsConfig { get; init; }
        /// <summary>For HeldByOtherDeployment: who holds it ("deployment d-123 on host build01, process 4242").</summary>
        public string? Detail { get; init; }
    }
}
