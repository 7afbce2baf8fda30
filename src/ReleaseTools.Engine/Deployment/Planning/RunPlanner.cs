using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>
    /// Dry runs: what a deployment or rollback would do, from read-only (signed) pings to every agent, the leases as they
    /// are and a HEAD of the package. Nothing is downloaded, claimed, pushed or written. Without a usable signing key the
    /// plan comes from the store alone and says what it could not check.
    /// </summary>
    internal sealed class RunPlanner
    {
        private readonly EngineServices _services;

        public RunPlanner(EngineServices services)
        {
            _services = services;
        }

        public async Task<DeploymentPlan> PlanDeploymentAsync(DeploymentRequest request, CancellationToken cancellationToken)
        {
            var settings = request.Settings;
            var valid = ValidatedDeployment.From(request);
            var location = valid.Location;
            var probe = await _services.Packages.ProbeAsync(location, cancellationToken).ConfigureAwait(false);

            using var client = TryCreateClient(settings, out var notChecked);
            var instances = await InstanceResolver.ResolveAsync(_services.Store, valid.InstanceIds, cancellationToken).ConfigureAwait(false);
            var configs = await DeployReleases.ResolveConfigsAsync(_services.Store, instances.Values, valid.Renderer, request.Config, request.Version,
                new EventPublisher(null), cancellationToken).ConfigureAwait(false);
            var package = PackageSupply.Lazy(location.Original, valid.Checksum,
                _ => Task.FromException<AcquiredPackage>(new InvalidOperationException("A dry run never fetches the package.")));
            var releases = DeployReleases.Build(configs, request.Version, package);
            var targets = DeployReleases.Targets(valid.Batches, instances, (instance, batch) => new TargetWork(instance, batch, releases[(instance.Service, instance.Environment)]));

            var plannedBatches = await PlanBatchesAsync(targets, settings, client?.Client, cancellationToken).ConfigureAwait(false);
            var needing = plannedBatches.SelectMany(b => b.Targets).Count(t => t.Action == PlannedAction.Change && t.NeedsPackage);
            return new DeploymentPlan
            {
                Operation = DeploymentOperation.Deploy,
                PackageUrl = location.Original,
                PackageBytes = probe.Length,
                BytesToSend = probe.Length.HasValue ? probe.Length.Value * needing : (long?)null,
                Batches = plannedBatches,
                NotChecked = notChecked,
            };
        }

        public async Task<DeploymentPlan> PlanRollbackAsync(RollbackRequest request, CancellationToken cancellationToken)
        {
            var settings = request.Settings;
            var valid = ValidatedRollback.From(request);
            using var client = TryCreateClient(settings, out var notChecked);
            var instances = await InstanceResolver.ResolveAsync(_services.Store, valid.InstanceIds, cancellationToken).ConfigureAwait(false);
            var history = new ReleaseHistoryResolver(_services.Store, _services.Packages, null);
            var targets = await RollbackTargets.ResolveAsync(history, valid.Batches, instances, request, cancellationToken).ConfigureAwait(false);

            var plannedBatches = await PlanBatchesAsync(targets, settings, client?.Client, cancellationToken).ConfigureAwait(false);
            var packages = targets.SelectMany(b => b).Where(t => t.Release != null).Select(t => t.Release!.Package.Source).Distinct().ToList();
            return new DeploymentPlan
            {
                Operation = DeploymentOperation.Rollback,
                PackageUrl = packages.Count == 1 ? packages[0] : null,
                Batches = plannedBatches,
                NotChecked = notChecked,
            };
        }

        /// <summary>
        /// The client for the read-only pings, or none when there is no usable signing key: the plan is then made from the
        /// store alone, and <paramref name="notChecked"/> says what could not be checked.
        /// </summary>
        private FloydClientHandle? TryCreateClient(RunSettings settings, out IReadOnlyList<string> notChecked)
        {
            notChecked = Array.Empty<string>();
            if (_services.Options.ClientFactory == null && string.IsNullOrWhiteSpace(settings.PrivateKeyPath))
            {
                notChecked = new[] { NoAgentCheck("there is no signing key (-PrivateKeyPath or RELEASETOOLS_PRIVATE_KEY)") };
                return null;
            }

            try
            {
                return _services.CreateClient(settings);
            }
            catch (DeploymentException ex) when (ex.ErrorId == EngineErrorIds.PrivateKeyUnusable)
            {
                notChecked = new[] { NoAgentCheck($"the signing key cannot be used ({ex.Message})") };
                return null;
            }
        }

        private static string NoAgentCheck(string why) =>
            $"The agents were not asked, because {why}: current versions are what the store recorded, reachability is unknown, and " +
            "every instance that would change is counted as needing the package.";

        private async Task<IReadOnlyList<PlannedBatch>> PlanBatchesAsync(IReadOnlyList<IReadOnlyList<TargetWork>> batches, RunSettings settings,
            IFloydClient? client, CancellationToken cancellationToken)
        {
            var all = batches.SelectMany(b => b).ToList();
            var held = (await _services.Leases.HeldByOthersAsync(all.Select(t => t.Instance.InstanceId).ToList(), null, cancellationToken).ConfigureAwait(false))
                .GroupBy(l => l.InstanceId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            var retry = new RetryExecutor(settings.RetryPolicy);
            var planned = new PlannedTarget[all.Count];
            var indexes = Enumerable.Range(0, all.Count).ToList();
            await SlidingWindow.RunAsync(indexes, settings.ThrottleLimit, async i =>
            {
                planned[i] = await PlanTargetAsync(all[i], held, settings.Force, retry, client, cancellationToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();

            var result = new List<PlannedBatch>(batches.Count);
            var offset = 0;
            for (var b = 0; b < batches.Count; b++)
            {
                result.Add(new PlannedBatch { Batch = b + 1, Targets = planned.Skip(offset).Take(batches[b].Count).ToList() });
                offset += batches[b].Count;
            }

            return result;
        }

        private static async Task<PlannedTarget> PlanTargetAsync(TargetWork target, IReadOnlyDictionary<string, LeaseRecord> held, bool force,
            RetryExecutor retry, IFloydClient? client, CancellationToken cancellationToken)
        {
            var planned = new PlannedTarget
            {
                InstanceId = target.Instance.InstanceId,
                Service = target.Instance.Service,
                Environment = target.Instance.Environment,
                CurrentVersion = target.Instance.Version,
                TargetVersion = target.TargetVersion,
            };

            if (target.Release == null)
            {
                return planned with
                {
                    Action = target.PresetFailure?.ErrorId == EngineErrorIds.RollbackNothingToUndo ? PlannedAction.NothingToUndo : PlannedAction.NoPreviousRelease,
                    Detail = target.PresetFailure?.Message,
                };
            }

            if (held.TryGetValue(target.Instance.InstanceId, out var lease))
            {
                return planned with { Action = PlannedAction.HeldByOtherDeployment, Detail = LeaseCoordinator.DescribeHolder(lease) };
            }

            if (client == null)
            {
                var currentByStore = string.Equals(target.Instance.FVersion, target.Release.FVersion, StringComparison.Ordinal);
                return planned with
                {
                    Action = currentByStore && !force ? PlannedAction.AlreadyCurrent : PlannedAction.Change,
                    NeedsPackage = true,
                    NeedsConfig = target.Release.Config != null,
                    Detail = "as the store knows it; the agent was not asked",
                };
            }

            try
            {
                var release = target.Release;
                var ping = await retry.RunAsync(ct => client.PingAsync(target.Endpoint, new PingRequest
                {
                    Service = release.Service,
                    Version = release.Version,
                    FVersion = release.FVersion,
                    PackageMd5 = release.Package.Md5,
                    Message = "ReleaseTools dry run",
                }, ct), _ => { }, (_, __) => { }, cancellationToken).ConfigureAwait(false);

                var current = string.Equals(ping.CurrentFVersion, release.FVersion, StringComparison.Ordinal) && !ping.NeedPackage && !ping.NeedConfig;
                return planned with
                {
                    CurrentVersion = ping.CurrentVersion,
                    Action = current && !force ? PlannedAction.AlreadyCurrent : PlannedAction.Change,
                    NeedsPackage = ping.NeedPackage || force,
                    NeedsConfig = release.Config != null && (ping.NeedConfig || force),
                };
            }
            catch (FloydException ex) when (!cancellationToken.IsCancellationRequested)
            {
                return planned with { Action = PlannedAction.Unreachable, Detail = StepFailure.FromFloyd(ex, InstanceStepRunner.PingStep, target.Endpoint).Message };
            }
        }
    }
}
