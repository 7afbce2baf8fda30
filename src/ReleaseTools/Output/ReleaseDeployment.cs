using System;

namespace ReleaseTools
{
    /// <summary>A deployment or rollback run as recorded in the store, with its per-batch and per-instance state.</summary>
    public sealed class ReleaseDeployment
    {
        public string DeploymentId { get; set; } = "";
        public ReleaseOperation Operation { get; set; }
        public string Service { get; set; } = "";
        /// <summary>The target version (empty for a rollback whose instances each go back to their own previous version).</summary>
        public string Version { get; set; } = "";
        public ReleaseDeploymentStatus Status { get; set; }
        public int Total { get; set; }
        public int Succeeded { get; set; }
        public int Failed { get; set; }
        public int Skipped { get; set; }
        public int Cancelled { get; set; }
        public string? PackageUrl { get; set; }
        public string? PackageMd5 { get; set; }
        public string InitiatedBy { get; set; } = "";
        public string InitiatedFrom { get; set; } = "";
        public string? ResumedFrom { get; set; }
        /// <summary>The run that resumed this one; its outcome is this run's outcome too.</summary>
        public string? ResumedBy { get; set; }
        /// <summary>CreatedAt, StartedAt and EndedAt are in the local time zone.</summary>
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public DateTimeOffset? EndedAt { get; set; }
        public DeploymentBatchList Batches { get; set; } = new DeploymentBatchList(Array.Empty<DeploymentBatchState>());
        public DeploymentTargetList Targets { get; set; } = new DeploymentTargetList(Array.Empty<DeploymentTarget>());

        public override string ToString() => DeploymentId;
    }

    /// <summary>How one batch of a run stands: counts of its targets by outcome.</summary>
    public sealed class DeploymentBatchState
    {
        public int Batch { get; set; }
        public int Total { get; set; }
        public int Succeeded { get; set; }
        public int Unchanged { get; set; }
        public int Failed { get; set; }
        public int Skipped { get; set; }
        public int Pending { get; set; }

        public override string ToString() => $"Batch {Batch}: {Succeeded + Unchanged}/{Total} done, {Failed} failed, {Skipped} skipped";
    }

    /// <summary>One instance inside one recorded run.</summary>
    public sealed class DeploymentTarget
    {
        public string DeploymentId { get; set; } = "";
        public string InstanceId { get; set; } = "";
        public string Service { get; set; } = "";
        public string Environment { get; set; } = "";
        public int Batch { get; set; }
        public string? FromVersion { get; set; }
        public string ToVersion { get; set; } = "";
        public DeploymentTargetStatus Status { get; set; }
        public int Attempts { get; set; }
        public bool Transferred { get; set; }
        public string? FailedStep { get; set; }
        public string? Error { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public DateTimeOffset? EndedAt { get; set; }

        public override string ToString() => InstanceId + " " + Status;
    }
}
