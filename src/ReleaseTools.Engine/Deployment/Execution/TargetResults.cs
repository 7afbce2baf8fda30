using System;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>Builds the per-instance result the cmdlets emit, from a target's recorded state.</summary>
    internal static class TargetResults
    {
        public static TargetResult From(TargetWork target, DeploymentOperation operation, string? errorId = null)
        {
            var record = target.Record;
            var duration = record.StartedAt.HasValue && record.EndedAt.HasValue ? record.EndedAt.Value - record.StartedAt.Value : TimeSpan.Zero;
            return new TargetResult
            {
                DeploymentId = record.DeploymentId,
                Operation = operation,
                InstanceId = target.Instance.InstanceId,
                Service = target.Instance.Service,
                Environment = target.Instance.Environment,
                Batch = target.Batch,
                FromVersion = record.FromVersion,
                ToVersion = record.TargetVersion,
                Status = record.Status,
                Transferred = record.PackageTransferred,
                Duration = duration < TimeSpan.Zero ? TimeSpan.Zero : duration,
                Attempts = record.Attempts,
                FailedStep = record.FailedStep,
                Error = record.Error,
                ErrorId = errorId,
                HealthGatePassed = target.Activation?.HealthGatePassed,
                FailedCheck = target.Activation?.FailedCheck,
                AgentDetail = target.Activation?.AgentDetail,
                RevertedTo = target.Activation?.RevertedTo,
                Config = target.Release?.Config?.Origin,
            };
        }
    }
}
