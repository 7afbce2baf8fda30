using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>
    /// A rollback: each instance goes to an explicit version or, by default, to the release before its current one,
    /// from its own history (package and config together). Recorded as a run with operation Rollback.
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
            var instanceIds = valid.InstanceIds;

            using var client = _services.CreateClient(settings);
            await _services.RecoverInterruptedAsync(cancellationToken).ConfigureAwait(false);
            var instances = await InstanceResolver.ResolveAsync(_services.Store, instanceIds, cancellationToken).ConfigureAwait(false);
            await _services.Leases.EnsureFreeAsync(instanceIds, settings.LeaseWait, cancellationToken).ConfigureAwait(false);

            var history = _services.HistoryResolver(events);
            var targets = await ResolveTargetsAsync(history, valid.Batches, instances, request.Version, cancellationToken).ConfigureAwait(false);
            var parameters = RunParameters.For(settings, allowLocalPackage: true, targets.SelectMany(b => b).Where(t => t.Release != null).Select(t => t.Release!));
            var deployment = RunLauncher.Describe(DeploymentOperation.Rollback, settings, targets.SelectMany(b => b), request.Version ?? "", parameters, null);
            return await _services.Launcher.LaunchAsync(deployment, targets, settings, client.Client, events, history, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Each instance's own rollback target; instances with none get a failure reported when their turn comes.</summary>
        public static async Task<IReadOnlyList<IReadOnlyList<TargetWork>>> ResolveTargetsAsync(ReleaseHistoryResolver history,
            IReadOnlyList<IReadOnlyList<string>> batches, IReadOnlyDictionary<string, InstanceRecord> instances, string? version, CancellationToken cancellationToken)
        {
            var result = new List<IReadOnlyList<TargetWork>>(batches.Count);
            for (var i = 0; i < batches.Count; i++)
            {
                var batch = new List<TargetWork>(batches[i].Count);
                foreach (var id in batches[i])
                {
                    var instance = instances[id];
                    var resolved = version == null
                        ? await history.PreviousAsync(instance, cancellationToken).ConfigureAwait(false)
                        : await history.VersionAsync(instance, version, cancellationToken).ConfigureAwait(false);
                    batch.Add(new TargetWork(instance, i + 1, resolved.Release, resolved.Failure));
                }

                result.Add(batch);
            }

            return result;
        }
    }
}
