using System;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Writes each target's state to the store as it changes. Writes use CancellationToken.None on purpose: once
    /// something happened on an agent, the record must say so even if the run is being cancelled. The target writes of
    /// concurrent instances are committed together (<see cref="TargetWriteBatcher"/>); each call still returns only once
    /// its own write is committed.
    /// </summary>
    internal sealed class RunRecorder
    {
        private readonly IReleaseStore _store;
        private readonly TargetWriteBatcher _writes;

        public RunRecorder(IReleaseStore store, string deploymentId, DeploymentOperation operation)
        {
            _store = store;
            _writes = new TargetWriteBatcher(store);
            DeploymentId = deploymentId;
            Operation = operation;
        }

        public string DeploymentId { get; }
        public DeploymentOperation Operation { get; }

        /// <summary>
        /// The target's steps begin with a ping, which changes nothing on the agent: the start time is noted and nothing is
        /// written, so an instance the run leaves alone costs one write, its outcome. A process killed now leaves the target
        /// Pending, which recovery marks Interrupted as it does a Running one.
        /// </summary>
        public void MarkStarted(TargetWork target) =>
            target.Record = target.Record with { StartedAt = DateTimeOffset.UtcNow, EndedAt = null };

        /// <summary>Written before the first request that changes the agent, so the store says the instance is being worked on.</summary>
        public Task MarkRunningAsync(TargetWork target)
        {
            target.Record = target.Record with { Status = TargetStatus.Running, StartedAt = target.Record.StartedAt ?? DateTimeOffset.UtcNow, EndedAt = null };
            return _writes.WriteAsync(TargetWrite.Of(target.Record));
        }

        /// <param name="restoring">True when the Rollback failure policy returns a target to what it ran before this run:
        /// the target keeps its From fields, which still describe the state before the run.</param>
        public Task MarkSucceededAsync(TargetWork target, ReleaseSpec release, InstanceOutcome outcome, TargetStatus status,
            DeploymentOperation operation, bool restoring = false)
        {
            var ended = DateTimeOffset.UtcNow;
            target.Record = target.Record with
            {
                FromVersion = restoring ? target.Record.FromVersion : outcome.FromVersion ?? target.Record.FromVersion,
                FromFVersion = restoring ? target.Record.FromFVersion : outcome.FromFVersion ?? target.Record.FromFVersion,
                Status = status,
                Attempts = outcome.Attempts,
                PackageTransferred = target.Record.PackageTransferred || outcome.PackageTransferred,
                ConfigTransferred = target.Record.ConfigTransferred || outcome.ConfigTransferred,
                FailedStep = null,
                Error = null,
                EndedAt = ended,
            };

            // The agent's own view of what ran before is what a later restore must go back to: it goes with the release, one
            // write for the target, the instance and its history.
            return _writes.WriteAsync(TargetWrite.Of(new ReleaseOutcome
            {
                DeploymentId = DeploymentId,
                InstanceId = target.Instance.InstanceId,
                Operation = operation,
                Version = release.Version,
                FVersion = release.FVersion,
                PackageUrl = release.Package.Source,
                PackageMd5 = outcome.PackageMd5 ?? release.Package.Md5,
                ConfigDigest = release.Config?.Digest,
                ConfigFileName = release.Config?.FileName,
                TargetStatus = status,
                Attempts = outcome.Attempts,
                PackageTransferred = target.Record.PackageTransferred,
                ConfigTransferred = target.Record.ConfigTransferred,
                StartedAt = target.Record.StartedAt,
                EndedAt = ended,
                FromVersion = target.Record.FromVersion,
                FromFVersion = target.Record.FromFVersion,
            }));
        }

        public async Task MarkFailedAsync(TargetWork target, InstanceOutcome? outcome, StepFailure failure)
        {
            target.Record = target.Record with
            {
                FromVersion = outcome?.FromVersion ?? target.Record.FromVersion,
                FromFVersion = outcome?.FromFVersion ?? target.Record.FromFVersion,
                Status = failure.Status,
                Attempts = outcome?.Attempts ?? target.Record.Attempts,
                PackageTransferred = target.Record.PackageTransferred || (outcome?.PackageTransferred ?? false),
                ConfigTransferred = target.Record.ConfigTransferred || (outcome?.ConfigTransferred ?? false),
                FailedStep = failure.Step,
                Error = failure.Message,
                EndedAt = DateTimeOffset.UtcNow,
            };
            if (failure.Activation?.RevertedTo != null && target.Release is { } release)
            {
                // The agent ran the release and undid it: history says so, and the instance stays on what it ran before.
                await _store.RecordRevertedAsync(target.Record, new RevertedAttempt
                {
                    Operation = Operation,
                    Version = release.Version,
                    FVersion = release.FVersion,
                    PackageUrl = release.Package.Source,
                    PackageMd5 = outcome?.PackageMd5 ?? release.Package.Md5,
                    ConfigDigest = release.Config?.Digest,
                    ConfigFileName = release.Config?.FileName,
                    FailedCheck = failure.Activation.FailedCheck,
                }, CancellationToken.None).ConfigureAwait(false);
                return;
            }

            await _writes.WriteAsync(TargetWrite.Of(target.Record)).ConfigureAwait(false);
            if (failure.Status == TargetStatus.Unreachable)
            {
                await _store.SetInstanceStatusAsync(target.Instance.InstanceId, InstanceStatus.Unreachable, CancellationToken.None).ConfigureAwait(false);
            }
        }

        /// <summary>Skipped or Cancelled: a target that was never (or not completely) worked on.</summary>
        public Task MarkAsync(TargetWork target, TargetStatus status, string? reason)
        {
            target.Record = target.Record with
            {
                Status = status,
                Error = reason,
                EndedAt = target.Record.StartedAt.HasValue ? DateTimeOffset.UtcNow : target.Record.EndedAt,
            };
            return _writes.WriteAsync(TargetWrite.Of(target.Record));
        }

        public Task AuditAsync(string kind, string message) =>
            _store.AppendAuditAsync(DeploymentId, kind, message, CancellationToken.None);
    }
}
