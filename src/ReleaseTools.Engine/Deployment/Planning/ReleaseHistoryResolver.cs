using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>A release found in an instance's history, or why there is none.</summary>
    internal sealed record ResolvedRelease(ReleaseSpec? Release, StepFailure? Failure);

    /// <summary>
    /// Finds the release an instance should go back to, from its own history, and rebuilds it whole: package (from
    /// the cache by URL and MD5, downloaded from the recorded URL only if an agent needs it) and config (from the
    /// snapshot kept under its digest). Instances going to the same release share one package supply.
    /// </summary>
    internal sealed class ReleaseHistoryResolver
    {
        private const int HistoryDepth = 500;
        private readonly IReleaseStore _store;
        private readonly PackageAcquirer _packages;
        private readonly Func<string, PackageProgressCallback>? _progressFor;
        private readonly Action<string>? _warn;
        private readonly ConcurrentDictionary<string, ReleaseSpec> _releases = new ConcurrentDictionary<string, ReleaseSpec>(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, byte[]?> _snapshots = new ConcurrentDictionary<string, byte[]?>(StringComparer.Ordinal);

        /// <param name="progressFor">Progress reporting for a download from the given source; null reports nothing (dry runs).</param>
        /// <param name="warn">Hears that a damaged cached copy of a package was replaced during the run; null: nobody (dry runs).</param>
        public ReleaseHistoryResolver(IReleaseStore store, PackageAcquirer packages, Func<string, PackageProgressCallback>? progressFor, Action<string>? warn = null)
        {
            _store = store;
            _packages = packages;
            _progressFor = progressFor;
            _warn = warn;
        }

        /// <summary>
        /// The release before the current one. If the current release was itself reached by a rollback, the deployment
        /// that first brought it decides, so rolling back twice keeps going back instead of bouncing between two versions.
        /// </summary>
        public async Task<ResolvedRelease> PreviousAsync(InstanceRecord instance, CancellationToken cancellationToken)
        {
            if (string.IsNullOrEmpty(instance.FVersion))
            {
                return new ResolvedRelease(null, new StepFailure(TargetStatus.Failed, InstanceStepRunner.PingStep, EngineErrorIds.NoPreviousRelease,
                    $"Instance {instance.InstanceId} cannot be rolled back: it was never deployed, so there is no earlier release to return to."));
            }

            var history = await _store.GetHistoryAsync(instance.InstanceId, HistoryDepth, cancellationToken).ConfigureAwait(false);
            var rows = history.Where(h => string.Equals(h.FVersion, instance.FVersion, StringComparison.Ordinal)).ToList();
            var current = rows.FirstOrDefault(h => h.Operation == DeploymentOperation.Deploy) ?? rows.FirstOrDefault();
            if (current == null || string.IsNullOrEmpty(current.PreviousFVersion))
            {
                return NoPrevious(instance, $"its history has no release before {instance.Version}");
            }

            return await FromHistoryAsync(instance, history, current.PreviousFVersion!, current.PreviousVersion, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>The most recent release of the given version in the instance's history.</summary>
        public async Task<ResolvedRelease> VersionAsync(InstanceRecord instance, string version, CancellationToken cancellationToken)
        {
            var history = await _store.GetHistoryAsync(instance.InstanceId, HistoryDepth, cancellationToken).ConfigureAwait(false);
            var row = history.FirstOrDefault(h => string.Equals(h.Version, version, StringComparison.Ordinal));
            if (row == null)
            {
                return new ResolvedRelease(null, new StepFailure(TargetStatus.Failed, InstanceStepRunner.PingStep, EngineErrorIds.ReleaseNotInHistory,
                    $"Instance {instance.InstanceId} never ran version {version}, so there is no recorded package and config to roll back to. " +
                    "Deploy that version instead, or pick a version from its history."));
            }

            return await BuildAsync(instance, row, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// What the instance ran before the given deployment moved it, so that deployment is undone. Refused (with a reason)
        /// when that deployment never moved it or already returned it, or when another run has moved it since.
        /// </summary>
        public async Task<ResolvedRelease> BeforeDeploymentAsync(InstanceRecord instance, string deploymentId, CancellationToken cancellationToken)
        {
            var history = await _store.GetHistoryAsync(instance.InstanceId, HistoryDepth, cancellationToken).ConfigureAwait(false);
            var moves = history.Where(h => string.Equals(h.DeploymentId, deploymentId, StringComparison.OrdinalIgnoreCase)).ToList();
            var now = instance.Version ?? "no release";
            if (moves.Count == 0)
            {
                return Refuse(EngineErrorIds.RollbackNothingToUndo,
                    $"Deployment {deploymentId} never moved {instance.InstanceId}, so there is nothing to undo; it is left alone on {now}.");
            }

            var first = moves[moves.Count - 1];
            if (string.Equals(instance.FVersion, first.PreviousFVersion, StringComparison.Ordinal))
            {
                return Refuse(EngineErrorIds.RollbackNothingToUndo,
                    $"{instance.InstanceId} already runs what it ran before deployment {deploymentId} ({now}); it is left alone.");
            }

            if (!string.Equals(instance.FVersion, moves[0].FVersion, StringComparison.Ordinal))
            {
                var latest = history.FirstOrDefault();
                return Refuse(EngineErrorIds.RollbackTargetMoved,
                    $"{instance.InstanceId} no longer runs what deployment {deploymentId} installed ({moves[0].Version}): " +
                    $"{(latest == null ? "another run" : latest.DeploymentId)} moved it to {now} since. Roll back that run's result instead, or pass -Version.");
            }

            if (string.IsNullOrEmpty(first.PreviousFVersion))
            {
                return NoPrevious(instance, $"it ran no release before deployment {deploymentId}");
            }

            return await FromHistoryAsync(instance, history, first.PreviousFVersion!, first.PreviousVersion, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>The release with this fversion (what an instance ran before this run), for the Rollback failure policy.</summary>
        public async Task<ResolvedRelease> FVersionAsync(InstanceRecord instance, string fversion, string? version, CancellationToken cancellationToken)
        {
            var history = await _store.GetHistoryAsync(instance.InstanceId, HistoryDepth, cancellationToken).ConfigureAwait(false);
            return await FromHistoryAsync(instance, history, fversion, version, cancellationToken).ConfigureAwait(false);
        }

        private async Task<ResolvedRelease> FromHistoryAsync(InstanceRecord instance, IReadOnlyList<VersionHistoryRecord> history, string fversion,
            string? version, CancellationToken cancellationToken)
        {
            var row = history.FirstOrDefault(h => string.Equals(h.FVersion, fversion, StringComparison.Ordinal));
            if (row == null)
            {
                return NoPrevious(instance, $"the release it ran before ({version ?? fversion}) is not in its recorded history");
            }

            return await BuildAsync(instance, row, cancellationToken).ConfigureAwait(false);
        }

        private async Task<ResolvedRelease> BuildAsync(InstanceRecord instance, VersionHistoryRecord row, CancellationToken cancellationToken)
        {
            var key = string.Join("\n", row.Service, row.Environment, row.FVersion, row.PackageUrl ?? "", row.PackageMd5 ?? "");
            if (_releases.TryGetValue(key, out var known))
            {
                return new ResolvedRelease(known, null);
            }

            RenderedConfig? config = null;
            if (!string.IsNullOrEmpty(row.ConfigDigest))
            {
                var digest = row.ConfigDigest!;
                if (!_snapshots.TryGetValue(digest, out var content))
                {
                    content = await _store.GetConfigSnapshotAsync(digest, cancellationToken).ConfigureAwait(false);
                    _snapshots[digest] = content;
                }

                if (content == null)
                {
                    return new ResolvedRelease(null, new StepFailure(TargetStatus.Failed, InstanceStepRunner.ConfigStep, EngineErrorIds.ConfigSnapshotMissing,
                        $"The config of {row.Version} for {instance.InstanceId} (digest {digest}) is no longer in the store, so that release cannot be restored whole."));
                }

                config = new RenderedConfig { FileName = row.ConfigFileName ?? "config", Content = content, Digest = digest, Origin = $"restored: the config {row.Version} ran with" };
            }

            var release = new ReleaseSpec(row.Service, row.Environment, row.Version, row.FVersion, Supply(row.PackageUrl, row.PackageMd5), config);
            return new ResolvedRelease(_releases.GetOrAdd(key, release), null);
        }

        /// <summary>A package from history: cache by URL and MD5 first, then the recorded URL, checked against the recorded MD5.</summary>
        public PackageSupply Supply(string? source, string? md5)
        {
            if (string.IsNullOrEmpty(source))
            {
                return PackageSupply.Lazy("", md5, _ => Task.FromException<AcquiredPackage>(new DeploymentException(EngineErrorIds.PackageNotFound,
                    DeploymentErrorKind.ObjectNotFound, "The history records no package URL for this release, so its package cannot be fetched again.")));
            }

            return PackageSupply.Lazy(source!, md5, ct =>
                _packages.AcquireAsync(PackageLocation.Parse(source, allowLocal: true), md5, _progressFor?.Invoke(source!), ct), _warn);
        }

        private static ResolvedRelease Refuse(string errorId, string message) =>
            new ResolvedRelease(null, new StepFailure(TargetStatus.Failed, InstanceStepRunner.PingStep, errorId, message));

        private static ResolvedRelease NoPrevious(InstanceRecord instance, string why) =>
            new ResolvedRelease(null, new StepFailure(TargetStatus.Failed, InstanceStepRunner.PingStep, EngineErrorIds.NoPreviousRelease,
                $"Instance {instance.InstanceId} cannot be rolled back: {why}. Roll back to an explicit version from its history instead."));
    }
}
