using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>
    /// Resumes a failed, cancelled, interrupted or partially-succeeded run: only its targets that did not reach their
    /// release are attempted again, with the same packages (cache, else the recorded URL, MD5 checked) and configs
    /// (snapshots by digest). Recorded as a new run whose ResumedFrom names the old one.
    /// </summary>
    internal sealed class ResumeOperation
    {
        private static readonly DeploymentStatus[] Resumable =
        {
            DeploymentStatus.Failed, DeploymentStatus.Cancelled, DeploymentStatus.Interrupted, DeploymentStatus.PartiallySucceeded,
        };

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
            var previous = await _services.Store.GetDeploymentAsync(request.DeploymentId, cancellationToken).ConfigureAwait(false)
                ?? throw new DeploymentException(EngineErrorIds.DeploymentNotFound, DeploymentErrorKind.ObjectNotFound,
                    $"There is no deployment '{request.DeploymentId}' in the store {_services.Store.Location}.", request.DeploymentId);

            if (!Resumable.Contains(previous.Status))
            {
                throw NotResumable(previous, previous.Status == DeploymentStatus.Running || previous.Status == DeploymentStatus.Pending
                    ? "it is still running; wait for it to finish or be marked interrupted"
                    : "it succeeded; there is nothing to resume");
            }

            var parameters = RunParameters.TryParse(previous.ParametersJson)
                ?? throw NotResumable(previous, "it was recorded without the release details a resume needs");
            var remaining = (await _services.Store.GetTargetsAsync(previous.DeploymentId, cancellationToken).ConfigureAwait(false))
                .Where(t => t.Status != TargetStatus.Succeeded && t.Status != TargetStatus.Unchanged)
                .OrderBy(t => t.Batch).ToList();
            if (remaining.Count == 0)
            {
                throw NotResumable(previous, "every target already reached its release");
            }

            using var client = _services.CreateClient(settings);
            var instanceIds = remaining.Select(t => t.InstanceId).ToList();
            var instances = await InstanceResolver.ResolveAsync(_services.Store, instanceIds, cancellationToken).ConfigureAwait(false);
            await _services.Leases.EnsureFreeAsync(instanceIds, settings.LeaseWait, cancellationToken).ConfigureAwait(false);

            var history = _services.HistoryResolver(events);
            var releases = await RebuildReleasesAsync(previous, parameters, history, events, cancellationToken).ConfigureAwait(false);
            var batchNumbers = remaining.Select(t => t.Batch).Distinct().OrderBy(b => b).ToList();
            var targets = batchNumbers.Select((original, index) => (IReadOnlyList<TargetWork>)remaining
                .Where(t => t.Batch == original)
                .Select(t => Target(t, instances[t.InstanceId], index + 1, releases))
                .ToList()).ToList();

            var deployment = RunLauncher.Describe(previous.Operation, settings, targets.SelectMany(b => b), previous.TargetVersion, parameters, previous.DeploymentId);
            return await _services.Launcher.LaunchAsync(deployment, targets, settings, client.Client, events, history, cancellationToken).ConfigureAwait(false);
        }

        private async Task<IReadOnlyList<(ReleaseParameters Parameters, ReleaseSpec Release)>> RebuildReleasesAsync(DeploymentRecord previous,
            RunParameters parameters, ReleaseHistoryResolver history, EventPublisher events, CancellationToken cancellationToken)
        {
            var result = new List<(ReleaseParameters, ReleaseSpec)>();
            var packages = new Dictionary<(string?, string?), PackageSupply>();
            foreach (var release in parameters.Releases)
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
                        ? PackageSupply.Ready(await AcquireAsync(release, parameters.AllowLocalPackage, events, cancellationToken).ConfigureAwait(false))
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
