using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Operations
{
    /// <summary>
    /// A rollback: each instance goes to an explicit version, to what it ran before a given deployment (undoing it), or by
    /// default to the release before its current one, from its own history (package and config together). Instances that
    /// cannot be rolled back are refused before the run is recorded. Recorded as a run with operation Rollback.
    /// </summary>
    internal sealed class RollbackOperation
    {
        private readonly EngineServices _services;

        public RollbackOperation(EngineServices services)
        {
            _services = services;
        }

        public async Task<DeploymentSummary> RunAsync(RollbackRequest request, IDeploymentObserver? observer, CancellationToken cancellationToken)
        {
            var settings = request.Settings;
            var events = new EventPublisher(observer);
            var valid = ValidatedRollback.From(request);

            using var client = _services.CreateClient(settings);
            await _services.RecoverInterruptedAsync(cancellationToken).ConfigureAwait(false);
            var instances = await InstanceResolver.ResolveAsync(_services.Store, valid.InstanceIds, cancellationToken).ConfigureAwait(false);

            // Everything the history can tell is checked before a run is recorded: an instance that cannot be rolled back
            // is refused on its own, and the others go ahead.
            var history = _services.HistoryResolver(events);
            var resolved = await RollbackTargets.ResolveAsync(history, valid.Batches, instances, request, cancellationToken).ConfigureAwait(false);
            var refused = resolved.SelectMany(b => b).Where(t => t.Release == null).Select(Refusal).ToList();
            foreach (var refusal in refused)
            {
                events.Publish(new InstanceRefused { Refusal = refusal });
            }

            var targets = Renumber(resolved.Select(b => (IReadOnlyList<TargetWork>)b.Where(t => t.Release != null).ToList()));
            if (targets.Count == 0)
            {
                return new DeploymentSummary
                {
                    Operation = DeploymentOperation.Rollback,
                    Status = refused.Any(r => r.IsError) ? DeploymentStatus.Failed : DeploymentStatus.Succeeded,
                    Refused = refused,
                };
            }

            await _services.Leases.EnsureFreeAsync(targets.SelectMany(b => b).Select(t => t.Instance.InstanceId).ToList(), settings.LeaseWait, cancellationToken)
                .ConfigureAwait(false);
            var parameters = RunParameters.For(settings, allowLocalPackage: true, targets.SelectMany(b => b).Select(t => t.Release!));
            // Without -Version each instance goes back to its own previous release; when they all go to one, the run is
            // listed with it, as a deployment is (several previous releases leave the run's version empty).
            var versions = targets.SelectMany(b => b).Select(t => t.Release!.Version).Distinct(StringComparer.Ordinal).ToList();
            var runVersion = request.Version ?? (versions.Count == 1 ? versions[0] : "");
            var deployment = RunLauncher.Describe(DeploymentOperation.Rollback, settings, targets.SelectMany(b => b), runVersion, parameters, null);
            var summary = await _services.Launcher.LaunchAsync(deployment, targets, settings, client.Client, events, history, cancellationToken).ConfigureAwait(false);
            return summary with { Refused = refused };
        }

        public static InstanceRefusal Refusal(TargetWork target) => new InstanceRefusal
        {
            InstanceId = target.Instance.InstanceId,
            Service = target.Instance.Service,
            Environment = target.Instance.Environment,
            CurrentVersion = target.Instance.Version,
            ErrorId = target.PresetFailure?.ErrorId ?? EngineErrorIds.NoPreviousRelease,
            Message = target.PresetFailure?.Message ?? $"Instance {target.Instance.InstanceId} has no release to go back to.",
            IsError = target.PresetFailure?.ErrorId != EngineErrorIds.RollbackNothingToUndo,
        };

        /// <summary>Batches left empty by refusals are dropped; the rest keep their order and are numbered 1..n again.</summary>
        private static IReadOnlyList<IReadOnlyList<TargetWork>> Renumber(IEnumerable<IReadOnlyList<TargetWork>> batches) =>
            batches.Where(b => b.Count > 0)
                .Select((b, index) => (IReadOnlyList<TargetWork>)b.Select(t => new TargetWork(t.Instance, index + 1, t.Release)).ToList())
                .ToList();
    }
}
