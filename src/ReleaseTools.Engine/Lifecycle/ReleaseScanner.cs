using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Lifecycle.Stages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle
{
    public sealed record ScanOptions
    {
        /// <summary>How each pre-release stage the scanner starts deploys.</summary>
        public StageOptions Stage { get; init; } = new StageOptions();
        /// <summary>How long the scanner's lease lasts without a heartbeat; another machine's scanner may act after it.</summary>
        public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(2);
        /// <summary>The name the scanner's transitions are recorded under.</summary>
        public string Actor { get; init; } = $"scanner ({ReleaseIdentity.Current()} on {System.Environment.MachineName})";
    }

    /// <summary>What one pass did. When another scanner held the lease, nothing was done and <see cref="Holder"/> says who.</summary>
    public sealed record ScanResult
    {
        public bool Acquired { get; init; }
        public LifecycleLease? Holder { get; init; }
        /// <summary>Stages this pass ran (Tagged releases it moved into pre-release) or settled (stages whose runner was gone).</summary>
        public IReadOnlyList<StageResult> Stages { get; init; } = Array.Empty<StageResult>();
        /// <summary>Releases found deploying under a live runner, left to it.</summary>
        public IReadOnlyList<string> InProgress { get; init; } = Array.Empty<string>();
    }

    /// <summary>
    /// The lifecycle's automatic part. One pass, under the store's scanner lease (at most one scanner acts at a time across
    /// machines): settles stages whose runner is gone from what their runs did, then moves each release that was tagged
    /// (and has not failed pre-release since) into its pre-release deployment and runs it. A release whose pre-release
    /// failed goes back to Tagged and waits for a person (Start-ReleaseStage) rather than being redeployed every pass.
    /// </summary>
    public sealed class ReleaseScanner
    {
        /// <summary>The store's one scanner lease.</summary>
        public const string LeaseName = "release-scanner";

        private readonly ReleaseLifecycle _lifecycle;
        private readonly StageRunner _stages;
        private readonly string _holderId = "scanner-" + Guid.NewGuid().ToString("N");

        public ReleaseScanner(ReleaseLifecycle lifecycle)
        {
            _lifecycle = lifecycle ?? throw new ArgumentNullException(nameof(lifecycle));
            _stages = new StageRunner(lifecycle);
        }

        private ILifecycleStore Releases => _lifecycle.Engine.Store.Lifecycle;

        public async Task<ScanResult> ScanOnceAsync(ScanOptions options, IDeploymentObserver? observer, CancellationToken cancellationToken)
        {
            options ??= new ScanOptions();
            // A scanner whose key cannot sign could start no stage: it says so before it claims or settles anything.
            _lifecycle.Engine.EnsureSigningKeyUsable(options.Stage.Settings);
            var claim = await Releases.TryClaimLifecycleLeaseAsync(LeaseName, _holderId, options.LeaseDuration, cancellationToken).ConfigureAwait(false);
            if (!claim.Acquired)
            {
                return new ScanResult { Acquired = false, Holder = claim.Holder };
            }

            using var heartbeat = new LeaseHeartbeat(Releases, LeaseName, _holderId, options.LeaseDuration);
            try
            {
                // Runs whose process died are marked Interrupted first, so settling sees them as ended.
                await _lifecycle.Engine.RecoverInterruptedRunsAsync(cancellationToken).ConfigureAwait(false);
                var stages = new List<StageResult>();
                var inProgress = new List<string>();
                foreach (var release in await Releases.FindReleasesAsync(new ReleaseQuery { States = new[] { ReleaseState.PreDeploying, ReleaseState.ProdDeploying }, Limit = 0 },
                    cancellationToken).ConfigureAwait(false))
                {
                    var settled = await TrySettleAsync(release, options, cancellationToken).ConfigureAwait(false);
                    if (settled == null)
                    {
                        inProgress.Add(release.ReleaseId);
                    }
                    else
                    {
                        stages.Add(settled);
                    }
                }

                // Oldest first: releases reach pre-release in the order they were tagged.
                var tagged = (await Releases.FindReleasesAsync(new ReleaseQuery { States = new[] { ReleaseState.Tagged }, Limit = 0 }, cancellationToken).ConfigureAwait(false))
                    .Reverse().ToList();
                foreach (var release in tagged)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var history = await Releases.GetReleaseTransitionsAsync(release.ReleaseId, cancellationToken).ConfigureAwait(false);
                    if (history.LastOrDefault()?.Event != ReleaseStateMachine.NameOf(ReleaseEvent.ConfirmTag))
                    {
                        continue;
                    }

                    try
                    {
                        stages.Add(await _stages.RunAsync(release.ReleaseId, ReleaseStage.PreRelease, options.Actor, "started by the release scanner", options.Stage, observer,
                            cancellationToken).ConfigureAwait(false));
                    }
                    catch (LifecycleException exception) when (exception.ErrorId == LifecycleErrorIds.ReleaseStateChanged || exception.ErrorId == LifecycleErrorIds.ReleaseTransitionInvalid)
                    {
                        // Someone started, cancelled or changed it since it was listed: theirs to finish.
                    }
                }

                return new ScanResult { Acquired = true, Holder = claim.Holder, Stages = stages, InProgress = inProgress };
            }
            finally
            {
                await heartbeat.StopAsync().ConfigureAwait(false);
                await Releases.ReleaseLifecycleLeaseAsync(LeaseName, _holderId, CancellationToken.None).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Passes until cancelled, one every <paramref name="interval"/> (Ctrl+C ends it between or inside passes; a stage in
        /// flight is still recorded). <paramref name="onPass"/> sees each pass's result.
        /// </summary>
        public async Task RunAsync(TimeSpan interval, ScanOptions options, IDeploymentObserver? observer, Action<ScanResult> onPass, CancellationToken cancellationToken)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                onPass(await ScanOnceAsync(options, observer, cancellationToken).ConfigureAwait(false));
                await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
        }

        /// <summary>
        /// A deploying release whose stage lease is gone had its runner die. Its stage ends from its runs: every service's run
        /// succeeded → completed; any failed, was interrupted or never started → failed. A run whose deployment still runs
        /// (another process owns its instance leases) leaves the release alone for now.
        /// </summary>
        private async Task<StageResult?> TrySettleAsync(ReleaseRecord release, ScanOptions options, CancellationToken cancellationToken)
        {
            // A live runner's heartbeat keeps its stage lease; only a lease that is gone or expired can be taken here.
            var claim = await Releases.TryClaimLifecycleLeaseAsync(StageRunner.LeaseName(release.ReleaseId), _holderId, options.LeaseDuration, cancellationToken).ConfigureAwait(false);
            if (!claim.Acquired)
            {
                return null;
            }

            var stage = release.State == ReleaseState.PreDeploying ? ReleaseStage.PreRelease : ReleaseStage.Production;
            var startEvent = ReleaseStateMachine.NameOf(StageRunner.StartEvent(stage));
            var start = (await Releases.GetReleaseTransitionsAsync(release.ReleaseId, cancellationToken).ConfigureAwait(false)).LastOrDefault(t => t.Event == startEvent);
            var entries = await Releases.GetReleaseEntriesAsync(release.ReleaseId, cancellationToken).ConfigureAwait(false);
            var runs = (await Releases.GetReleaseRunsAsync(release.ReleaseId, cancellationToken).ConfigureAwait(false))
                .Where(r => start != null && r.TransitionSequence == start.Sequence).ToList();
            var judged = new List<ReleaseRunRecord>();
            foreach (var entry in entries)
            {
                var run = runs.LastOrDefault(r => string.Equals(r.Service, entry.Service, StringComparison.OrdinalIgnoreCase));
                if (run == null)
                {
                    judged.Add(new ReleaseRunRecord { ReleaseId = release.ReleaseId, Stage = stage, Service = entry.Service, Status = ReleaseRunStatus.Failed, Error = "never started: the stage's process ended first" });
                    continue;
                }

                if (run.Status != ReleaseRunStatus.Running)
                {
                    judged.Add(run);
                    continue;
                }

                var deployment = run.DeploymentId == null ? null : await _lifecycle.Engine.Store.GetDeploymentAsync(run.DeploymentId, cancellationToken).ConfigureAwait(false);
                if (deployment != null && !StoreValues.IsFinal(deployment.Status))
                {
                    return null;
                }

                var ended = run with
                {
                    Status = deployment?.Status == DeploymentStatus.Succeeded ? ReleaseRunStatus.Succeeded : ReleaseRunStatus.Failed,
                    Error = deployment == null
                        ? "the stage's process ended before its deployment started"
                        : deployment.Status == DeploymentStatus.Succeeded ? null : $"{deployment.DeploymentId} {deployment.Status} (its stage's process ended)",
                    EndedAt = deployment?.EndedAt ?? DateTimeOffset.UtcNow,
                };
                await Releases.UpdateReleaseRunAsync(ended, cancellationToken).ConfigureAwait(false);
                judged.Add(ended);
            }

            try
            {
                return await _stages.SettleAsync(release, stage, entries, judged, options.Actor, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await Releases.ReleaseLifecycleLeaseAsync(StageRunner.LeaseName(release.ReleaseId), _holderId, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }
}
