using System.Linq;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Hosting
{
    /// <summary>Turns engine records into the module's public output types, so engine types never reach the pipeline.</summary>
    internal static class OutputMapper
    {
        public static ServiceInstance ToOutput(InstanceRecord record) => new ServiceInstance
        {
            InstanceId = record.InstanceId,
            Service = record.Service,
            Environment = record.Environment,
            Host = record.Host,
            Port = record.Port,
            Tags = record.Tags.ToArray(),
            Version = record.Version,
            FVersion = record.FVersion,
            Status = record.Status.ToString(),
            UpdatedAt = record.UpdatedAt,
        };

        public static DeploymentResult ToOutput(TargetResult result) => new DeploymentResult
        {
            InstanceId = result.InstanceId,
            Service = result.Service,
            Environment = result.Environment,
            FromVersion = result.FromVersion,
            ToVersion = result.ToVersion,
            Status = result.Status.ToString(),
            Batch = result.Batch,
            Transferred = result.Transferred,
            Duration = result.Duration,
            Attempts = result.Attempts,
            FailedStep = result.FailedStep,
            Error = result.Error,
            ErrorId = result.ErrorId,
            Operation = result.Operation.ToString(),
            DeploymentId = result.DeploymentId,
        };

        public static VersionHistoryEntry ToOutput(VersionHistoryRecord record) => new VersionHistoryEntry
        {
            Sequence = record.Sequence,
            InstanceId = record.InstanceId,
            Service = record.Service,
            Environment = record.Environment,
            Version = record.Version,
            FVersion = record.FVersion,
            PreviousVersion = record.PreviousVersion,
            Operation = record.Operation.ToString(),
            DeploymentId = record.DeploymentId,
            PackageUrl = record.PackageUrl,
            PackageMd5 = record.PackageMd5,
            ConfigDigest = record.ConfigDigest,
            ConfigFileName = record.ConfigFileName,
            RecordedAt = record.RecordedAt,
        };

        public static InstanceHealth ToOutput(InstanceHealthResult result) => new InstanceHealth
        {
            InstanceId = result.InstanceId,
            Service = result.Service,
            Host = result.Host,
            Port = result.Port,
            Reachable = result.Reachable,
            Healthy = result.Healthy,
            Version = result.ActiveVersion,
            FVersion = result.ActiveFVersion,
            AgentVersion = result.AgentVersion,
            Latency = result.Latency,
            Error = result.Error,
        };

        public static DeploymentTarget ToOutput(DeploymentTargetRecord target) => new DeploymentTarget
        {
            DeploymentId = target.DeploymentId,
            InstanceId = target.InstanceId,
            Service = target.Service,
            Environment = target.Environment,
            Batch = target.Batch,
            FromVersion = target.FromVersion,
            ToVersion = target.TargetVersion,
            Status = target.Status.ToString(),
            Attempts = target.Attempts,
            Transferred = target.PackageTransferred,
            FailedStep = target.FailedStep,
            Error = target.Error,
            StartedAt = target.StartedAt,
            EndedAt = target.EndedAt,
        };

        public static ReleaseDeployment ToOutput(DeploymentRecord record, System.Collections.Generic.IReadOnlyList<DeploymentTargetRecord> targets) => new ReleaseDeployment
        {
            DeploymentId = record.DeploymentId,
            Operation = record.Operation.ToString(),
            Service = record.Service,
            Version = record.TargetVersion,
            Status = record.Status.ToString(),
            Total = record.TotalTargets,
            Succeeded = record.SucceededTargets,
            Failed = record.FailedTargets,
            Skipped = record.SkippedTargets,
            PackageUrl = record.PackageUrl,
            PackageMd5 = record.PackageMd5,
            InitiatedBy = record.InitiatedBy,
            InitiatedFrom = record.InitiatedFrom,
            ResumedFrom = record.ResumedFrom,
            CreatedAt = record.CreatedAt,
            StartedAt = record.StartedAt,
            EndedAt = record.EndedAt,
            Targets = targets.Select(ToOutput).ToArray(),
            Batches = targets
                .GroupBy(t => t.Batch)
                .OrderBy(g => g.Key)
                .Select(g => new DeploymentBatchState
                {
                    Batch = g.Key,
                    Total = g.Count(),
                    Succeeded = g.Count(t => t.Status == TargetStatus.Succeeded),
                    Unchanged = g.Count(t => t.Status == TargetStatus.Unchanged),
                    Failed = g.Count(t => t.Status == TargetStatus.Failed || t.Status == TargetStatus.Unreachable),
                    Skipped = g.Count(t => t.Status == TargetStatus.Skipped || t.Status == TargetStatus.Cancelled),
                    Pending = g.Count(t => t.Status == TargetStatus.Pending || t.Status == TargetStatus.Running),
                })
                .ToArray(),
        };
    }
}
