using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Operations
{
    /// <summary>
    /// Resumes a failed, cancelled, interrupted or partially-succeeded run: only what it still owes (targets that did not
    /// reach their release) is attempted again, with the same packages (cache, else the recorded URL, MD5 checked) and
    /// configs (snapshots by digest). A target whose instance another run moved since is recorded Superseded and left
    /// alone. Recorded as a new run whose ResumedFrom names the old one; the old run then takes the new run's outcome as
    /// its status and is never resumed again (resuming it resumes its latest resume instead).
    /// </summary>
    internal sealed class ResumeOperation
    {
        private static readonly DeploymentStatus[] Resumable =
        {
            DeploymentStatus.Failed, DeploymentStatus.Cancelled, DeploymentStatus.Interrupted, DeploymentStatus.PartiallySucceeded,
        };

        // How far back in an instance's history a later move by another run is looked for.
        private const int SupersededLookback = 200;

        private readonly EngineServices _services;

        public ResumeOperation(EngineServices services)
        {
            _services = services;
        }

        public async Task<DeploymentSummary> RunAsync(ResumeRequest request, IDeploymentObserver? observer, CancellationToken cancellationToken)
        {
            var settings = request.Settings;
            var events = new EventPublisher(observer);
            RequestValidator.ValidateSettings(settings);
            if (string.IsNullOrWhiteSpace(request.DeploymentId))
            {
                throw RequestValidator.Invalid("A deployment id is required to resume a deployment.");
            }

            await _services.RecoverInterruptedAsync(cancellationToken).ConfigureAwait(false);
            var chain = await ResumeChainAsync(_services.Store, request.DeploymentId, cancellationToken).ConfigureAwait(false);
            var previous = chain[0];
            if (!string.Equals(previous.DeploymentId, request.DeploymentId, StringComparison.OrdinalIgnoreCase))
            {
                events.Note($"Deployment {request.DeploymentId} was resumed by {previous.DeploymentId}; resuming what {previous.DeploymentId} still owes.");
            }

            if (!Resumable.Contains(previous.Status))
            {
                throw NotResumable(previous, previous.Status == DeploymentStatus.Running || previous.Status == DeploymentStatus.Pending
                    ? "it is still running; wait for it to finish or be marked interrupted"
                    : "it succeeded; there is nothing to resume");
            }

            var parameters = RunParameters.TryParse(previous.ParametersJson)
                ?? throw NotResumable(previous, "it was recorded without the release details a resume needs");
            var remaining = (await _services.Store.GetTargetsAsync(previous.DeploymentId, cancellationToken).ConfigureAwait(false))
                .Where(IsOwed).OrderBy(t => t.Batch).ToList();
            if (remaining.Count == 0)
            {
                throw NotResumable(previous, "every target already reached its release or was superseded");
            }

            using var client = _services.CreateClient(settings);
            var instanceIds = remaining.Select(t => t.InstanceId).ToList();
            var instances = await InstanceResolver.ResolveAsync(_services.Store, instanceIds, cancellationToken).ConfigureAwait(false);
            var superseded = await FindSupersededAsync(chain, remaining, cancellationToken).ConfigureAwait(false);
            var owed = remaining.Where(t => !superseded.ContainsKey(t.InstanceId)).ToList();
            await _services.Leases.EnsureFreeAsync(owed.Select(t => t.InstanceId).ToList(), settings.LeaseWait, cancellationToken).ConfigureAwait(false);

            var history = _services.HistoryResolver(events);
            var needed = parameters.Releases.Where(r => owed.Any(t => r.Matches(t.Service, t.Environment, t.TargetFVersion))).ToList();
            var releases = await RebuildReleasesAsync(previous, parameters, needed, history, events, cancellationToken).ConfigureAwait(false);
            var batchNumbers = remaining.Select(t => t.Batch).Distinct().OrderBy(b => b).ToList();
            var targets = batchNumbers.Select((original, index) => (IReadOnlyList<TargetWork>)remaining
                .Where(t => t.Batch == original)
                .Select(t => superseded.TryGetValue(t.InstanceId, out var reason)
                    ? TargetWork.Superseded(instances[t.InstanceId], index + 1, t, reason)
                    : Target(t, instances[t.InstanceId], index + 1, releases))
                .ToList()).ToList();

            var deployment = RunLauncher.Describe(previous.Operation, settings, targets.SelectMany(b => b), previous.TargetVersion, parameters, previous.DeploymentId);
            return await _services.Launcher.LaunchAsync(deployment, targets, settings, client.Client, events, history, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>What a run still owes: targets that neither reached their release nor were superseded.</summary>
        public static bool IsOwed(DeploymentTargetRecord target) =>
            target.Status != TargetStatus.Succeeded && target.Status != TargetStatus.Unchanged && target.Status != TargetStatus.Superseded;

        /// <summary>
        /// The run to resume first, then the runs it resumed back to the original: a run that was resumed is taken over by its
        /// resume, so resuming it again (or both) resumes the latest attempt once.
        /// </summary>
        public static async Task<IReadOnlyList<DeploymentRecord>> ResumeChainAsync(IReleaseStore store, string deploymentId, CancellationToken cancellationToken)
        {
            var current = await store.GetDeploymentAsync(deploymentId, cancellationToken).ConfigureAwait(false)
                ?? throw new DeploymentException(EngineErrorIds.DeploymentNotFound, DeploymentErrorKind.ObjectNotFound,
                    $"There is no deployment '{deploymentId}' in the store {store.Location}.", deploymentId);
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { current.DeploymentId };
            while (!string.IsNullOrEmpty(current.ResumedBy) && seen.Add(current.ResumedBy!))
            {
                current = await store.GetDeploymentAsync(current.ResumedBy!, cancellationToken).ConfigureAwait(false) ?? current;
            }

            var chain = new List<DeploymentRecord> { current };
            var earlier = current;
            while (!string.IsNullOrEmpty(earlier.ResumedFrom) && chain.Count < 1000)
            {
                var next = await store.GetDeploymentAsync(earlier.ResumedFrom!, cancellationToken).ConfigureAwait(false);
                if (next == null || chain.Any(d => string.Equals(d.DeploymentId, next.DeploymentId, StringComparison.OrdinalIgnoreCase)))
                {
                    break;
                }

                chain.Add(next);
                earlier = next;
            }

            return chain;
        }

        /// <summary>
        /// Owed targets whose instance another run moved after the original run was recorded: resuming them would put an
        /// older (or other) release over what that run deliberately installed, so they are left alone.
        /// </summary>
        private async Task<IReadOnlyDictionary<string, string>> FindSupersededAsync(IReadOnlyList<DeploymentRecord> chain,
            IReadOnlyList<DeploymentTargetRecord> owed, CancellationToken cancellationToken)
        {
            var ours = new HashSet<string>(chain.Select(d => d.DeploymentId), StringComparer.OrdinalIgnoreCase);
            var since = chain.Min(d => d.CreatedAt);
            var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var target in owed)
            {
                var history = await _services.Store.GetHistoryAsync(target.InstanceId, SupersededLookback, cancellationToken).ConfigureAwait(false);
                var moved = history.FirstOrDefault(h => h.RecordedAt >= since && !ours.Contains(h.DeploymentId));
                if (moved != null)
                {
                    result[target.InstanceId] =
                        $"Left alone: {(moved.Operation == DeploymentOperation.Rollback ? "rollback" : "deployment")} {moved.DeploymentId} moved {target.InstanceId} " +
                        $"to {moved.Version} at {moved.RecordedAt:u}, after this run recorded it, so {target.TargetVersion} is no longer owed.";
                }
            }

            return result;
        }

        private async Task<IReadOnlyList<(ReleaseParameters Parameters, ReleaseSpec Release)>> RebuildReleasesAsync(DeploymentRecord previous,
            RunParameters parameters, IReadOnlyList<ReleaseParameters> needed, ReleaseHistoryResolver history, EventPublisher events, CancellationToken cancellationToken)
        {
            var result = new List<(ReleaseParameters, ReleaseSpec)>();
            var packages = new Dictionary<(string?, string?), PackageSupply>();
            foreach (var release in needed)
            {
                RenderedConfig? config = null;
                if (!string.IsNullOrEmpty(release.ConfigDigest))
                {
                    var content = await _services.Store.GetConfigSnapshotAsync(release.ConfigDigest!, cancellationToken).ConfigureAwait(false)
                        ?? throw new DeploymentException(EngineErrorIds.ConfigSnapshotMissing, DeploymentErrorKind.ObjectNotFound,
                            $"The config of {release.Service}/{release.Environment} {release.Version} (digest {release.ConfigDigest}) is no longer in the store, " +
                            $"so deployment {previous.DeploymentId} cannot be resumed with the same config. Start a new deployment instead.", previous.DeploymentId);
                    config = new RenderedConfig { FileName = release.ConfigFileName ?? "config", Content = content, Digest = release.ConfigDigest! };
                }

                var key = (release.PackageUrl, release.PackageMd5);
                if (!packages.TryGetValue(key, out var package))
                {
                    // A deployment's package is fetched (and its MD5 checked) before anything is pushed, as in the original run;
                    // a rollback's packages only when an agent no longer holds them.
                    package = previous.Operation == DeploymentOperation.Deploy
                        ? PackageSupply.Ready(await AcquireAsync(release, parameters.AllowLocalPackage, events, cancellationToken).ConfigureAwait(false),
                            ct => AcquireAsync(release, parameters.AllowLocalPackage, events, ct), events.Warn)
                        : history.Supply(release.PackageUrl, release.PackageMd5);
                    packages[key] = package;
                }

                result.Add((release, new ReleaseSpec(release.Service, release.Environment, release.Version, release.FVersion, package, config)));
            }

            return result;
        }

        private Task<AcquiredPackage> AcquireAsync(ReleaseParameters release, bool allowLocal, EventPublisher events, CancellationToken cancellationToken)
        {
            var location = PackageLocation.Parse(release.PackageUrl, allowLocal);
            return _services.Packages.AcquireAsync(location, release.PackageMd5, EngineServices.ProgressTo(events, location.Original), cancellationToken);
        }

        private static TargetWork Target(DeploymentTargetRecord previous, InstanceRecord instance, int batch,
            IReadOnlyList<(ReleaseParameters Parameters, ReleaseSpec Release)> releases)
        {
            var match = releases.FirstOrDefault(r => r.Parameters.Matches(previous.Service, previous.Environment, previous.TargetFVersion));
            if (match.Release != null)
            {
                return new TargetWork(instance, batch, match.Release);
            }

            // A rollback target that had nothing to go back to is still without one.
            return new TargetWork(instance, batch, null, new StepFailure(TargetStatus.Failed, previous.FailedStep ?? InstanceStepRunner.PingStep,
                EngineErrorIds.NoPreviousRelease, previous.Error ?? $"Instance {instance.InstanceId} has no recorded release to go to."));
        }

        private static DeploymentException NotResumable(DeploymentRecord deployment, string why) =>
            new DeploymentException(EngineErrorIds.DeploymentNotResumable, DeploymentErrorKind.InvalidOperation,
                $"Deployment {deployment.DeploymentId} ({deployment.Status}) cannot be resumed: {why}.", deployment.DeploymentId);
    }
}
