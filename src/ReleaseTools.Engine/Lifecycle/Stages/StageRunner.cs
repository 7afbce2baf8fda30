using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Lifecycle.Notifications;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle.Stages
{
    /// <summary>How a stage deploys: the deployment settings of every service's run, and how many services deploy at once.</summary>
    public sealed record StageOptions
    {
        /// <summary>Batches, throttle, failure policy, signing key and agent options of each service's deployment run.</summary>
        public RunSettings Settings { get; init; } = new RunSettings();
        /// <summary>Service deployments of one stage running at once.</summary>
        public int ServiceThrottleLimit { get; init; } = 5;
        /// <summary>
        /// Retries of transient failures, both inside each run (per instance) and of a run that could not start (a package
        /// server or the store briefly unavailable, instances held by another run): 1 s, 2 s, 4 s by default.
        /// </summary>
        public RetryPolicy Retry { get; init; } = new RetryPolicy { MaxAttempts = 4, InitialDelay = TimeSpan.FromSeconds(1), BackoffFactor = 2 };
        /// <summary>How long the stage's lease lasts without a heartbeat (a scanner settles a stage whose runner is gone after it).</summary>
        public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(2);
    }

    /// <summary>What one stage did: the release after it, every service's run, and the webhooks that could not be told.</summary>
    public sealed record StageResult
    {
        public ReleaseRecord Release { get; init; } = new ReleaseRecord();
        public ReleaseStage Stage { get; init; }
        public bool Succeeded { get; init; }
        public IReadOnlyList<ReleaseRunRecord> Runs { get; init; } = Array.Empty<ReleaseRunRecord>();
        /// <summary>"2 of 3 services deployed to staging; web: 1 of 2 instances failed".</summary>
        public string Summary { get; init; } = "";
        public IReadOnlyList<WebhookDeliveryResult> NotificationFailures { get; init; } = Array.Empty<WebhookDeliveryResult>();
    }

    /// <summary>
    /// Deploys a release's stage: start_pre_deploy / start_prod_deploy, then every service entry to that environment's
    /// instances through the deployment engine (a worker pool of services; each a normal run with batches, throttle,
    /// failure policy and leases, deploying the package checksum and config frozen at tagging), each run recorded on the
    /// release as it starts, then the completed or failed event. One service failing does not stop the others; the stage
    /// fails if any fails. A lease on the stage tells a scanner the stage has a live runner.
    /// </summary>
    public sealed class StageRunner
    {
        private readonly ReleaseLifecycle _lifecycle;

        public StageRunner(ReleaseLifecycle lifecycle)
        {
            _lifecycle = lifecycle ?? throw new ArgumentNullException(nameof(lifecycle));
        }

        private IReleaseStore Store => _lifecycle.Engine.Store;

        /// <summary>The name of a release's stage lease in the store.</summary>
        public static string LeaseName(string releaseId) => "release-stage:" + releaseId;

        public static ReleaseEvent StartEvent(ReleaseStage stage) => stage == ReleaseStage.PreRelease ? ReleaseEvent.StartPreDeploy : ReleaseEvent.StartProdDeploy;

        public static ReleaseEvent EndEvent(ReleaseStage stage, bool succeeded) => stage == ReleaseStage.PreRelease
            ? (succeeded ? ReleaseEvent.PreDeployCompleted : ReleaseEvent.PreDeployFailed)
            : (succeeded ? ReleaseEvent.ProdDeployCompleted : ReleaseEvent.ProdDeployFailed);

        public static string EnvironmentOf(ReleaseRecord release, ReleaseStage stage) => stage == ReleaseStage.PreRelease ? release.PreEnvironment : release.ProdEnvironment;

        /// <summary>
        /// Runs the stage to its end. Cancelling stops the deployments (they record themselves Cancelled) and fails the stage,
        /// which is still recorded and announced. The start event's refusal (wrong state, lost race) throws before anything deploys.
        /// </summary>
        public async Task<StageResult> RunAsync(string releaseId, ReleaseStage stage, string actor, string? comment, StageOptions options, IDeploymentObserver? observer,
            CancellationToken cancellationToken)
        {
            options ??= new StageOptions();
            var release = await _lifecycle.RequireAsync(releaseId, cancellationToken).ConfigureAwait(false);
            var startEvent = StartEvent(stage);
            ReleaseStateMachine.Require(releaseId, release.State, startEvent);
            // A key that cannot sign would fail every service's run: refuse before the stage is started and recorded.
            _lifecycle.Engine.EnsureSigningKeyUsable(options.Settings);
            var holder = "stage-" + Guid.NewGuid().ToString("N");
            var lease = await Store.Lifecycle.TryClaimLifecycleLeaseAsync(LeaseName(releaseId), holder, options.LeaseDuration, cancellationToken).ConfigureAwait(false);
            if (!lease.Acquired)
            {
                throw new LifecycleException(LifecycleErrorIds.ReleaseStateChanged, DeploymentErrorKind.ResourceBusy,
                    $"A stage of release '{releaseId}' is being deployed by process {lease.Holder?.ProcessId} on {lease.Holder?.HostName}; nothing was started.", releaseId);
            }

            using var heartbeat = new LeaseHeartbeat(Store.Lifecycle, LeaseName(releaseId), holder, options.LeaseDuration);
            try
            {
                var started = await _lifecycle.TransitionAsync(release, startEvent, actor, comment, null, null, cancellationToken).ConfigureAwait(false);
                var deploying = started.Change.Release!;
                var entries = await Store.Lifecycle.GetReleaseEntriesAsync(releaseId, cancellationToken).ConfigureAwait(false);
                var runs = await DeployEntriesAsync(deploying, started.Change.Transition!.Sequence, stage, entries, actor, options, observer, cancellationToken).ConfigureAwait(false);
                // The stage's end is recorded even when the caller cancelled: the release must not stay "deploying" with no one deploying it.
                var ended = await SettleAsync(deploying, stage, entries, runs, actor, CancellationToken.None).ConfigureAwait(false);
                return ended with { NotificationFailures = started.NotificationFailures.Concat(ended.NotificationFailures).ToList() };
            }
            finally
            {
                await heartbeat.StopAsync().ConfigureAwait(false);
                await Store.Lifecycle.ReleaseLifecycleLeaseAsync(LeaseName(releaseId), holder, CancellationToken.None).ConfigureAwait(false);
            }
        }

        /// <summary>Fires the stage's completed or failed event from what its runs did, announcing the stage's result.</summary>
        internal async Task<StageResult> SettleAsync(ReleaseRecord deploying, ReleaseStage stage, IReadOnlyList<ReleaseEntry> entries, IReadOnlyList<ReleaseRunRecord> runs,
            string actor, CancellationToken cancellationToken)
        {
            var environment = EnvironmentOf(deploying, stage);
            var failed = entries.Where(e => !runs.Any(r => r.Status == ReleaseRunStatus.Succeeded && string.Equals(r.Service, e.Service, StringComparison.OrdinalIgnoreCase)))
                .Select(e => e.Service).ToList();
            var succeeded = failed.Count == 0 && entries.Count > 0;
            var summary = $"{entries.Count - failed.Count} of {entries.Count} service(s) deployed to {environment}" +
                string.Concat(runs.Where(r => r.Status != ReleaseRunStatus.Succeeded).Select(r => $"; {r.Service}: {r.Error}"));
            var notice = new ReleaseStageResult
            {
                Stage = stage.ToString(),
                Environment = environment,
                RunIds = runs.Where(r => r.DeploymentId != null).Select(r => r.DeploymentId!).ToList(),
                Outcome = succeeded ? StageOutcome.Succeeded : StageOutcome.Failed,
                Summary = summary,
            };
            var ended = await _lifecycle.TransitionAsync(deploying, EndEvent(stage, succeeded), actor, summary, null, null, cancellationToken, notice).ConfigureAwait(false);
            return new StageResult
            {
                Release = ended.Change.Release!,
                Stage = stage,
                Succeeded = succeeded,
                Runs = runs,
                Summary = summary,
                NotificationFailures = ended.NotificationFailures,
            };
        }

        private async Task<IReadOnlyList<ReleaseRunRecord>> DeployEntriesAsync(ReleaseRecord release, long transition, ReleaseStage stage, IReadOnlyList<ReleaseEntry> entries,
            string actor, StageOptions options, IDeploymentObserver? observer, CancellationToken cancellationToken)
        {
            using var pool = new SemaphoreSlim(Math.Max(1, options.ServiceThrottleLimit));
            var work = entries.Select(async entry =>
            {
                await pool.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    return await DeployEntryAsync(release, transition, stage, entry, actor, options, observer, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    pool.Release();
                }
            }).ToList();
            try
            {
                return await Task.WhenAll(work).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Entries still waiting for the pool were never started: record them as such, beside the ones that ran.
                var runs = new List<ReleaseRunRecord>();
                foreach (var (task, entry) in work.Zip(entries, (t, e) => (t, e)))
                {
                    runs.Add(task.Status == TaskStatus.RanToCompletion ? task.Result : await RecordNotStartedAsync(release, transition, stage, entry, "cancelled before it started").ConfigureAwait(false));
                }

                return runs;
            }
        }

        private async Task<ReleaseRunRecord> RecordNotStartedAsync(ReleaseRecord release, long transition, ReleaseStage stage, ReleaseEntry entry, string why)
        {
            var now = DateTimeOffset.UtcNow;
            return await Store.Lifecycle.AddReleaseRunAsync(new ReleaseRunRecord
            {
                ReleaseId = release.ReleaseId,
                TransitionSequence = transition,
                Stage = stage,
                Service = entry.Service,
                Environment = EnvironmentOf(release, stage),
                Status = ReleaseRunStatus.Failed,
                Error = why,
                StartedAt = now,
                EndedAt = now,
            }, CancellationToken.None).ConfigureAwait(false);
        }

        /// <summary>One service's deployment to the stage's environment; never throws for the service's own failure (the run says it).</summary>
        private async Task<ReleaseRunRecord> DeployEntryAsync(ReleaseRecord release, long transition, ReleaseStage stage, ReleaseEntry entry, string actor, StageOptions options,
            IDeploymentObserver? observer, CancellationToken cancellationToken)
        {
            var environment = EnvironmentOf(release, stage);
            var run = await Store.Lifecycle.AddReleaseRunAsync(new ReleaseRunRecord
            {
                ReleaseId = release.ReleaseId,
                TransitionSequence = transition,
                Stage = stage,
                Service = entry.Service,
                Environment = environment,
                Status = ReleaseRunStatus.Running,
                StartedAt = DateTimeOffset.UtcNow,
            }, cancellationToken).ConfigureAwait(false);
            var recorder = new RunIdRecorder(Store.Lifecycle, run, observer);
            try
            {
                var request = await BuildRequestAsync(release, entry, environment, actor, options, cancellationToken).ConfigureAwait(false);
                var summary = await StartWithRetriesAsync(request, recorder, options.Retry, cancellationToken).ConfigureAwait(false);
                run = run with
                {
                    DeploymentId = summary.DeploymentId,
                    Status = summary.Status == DeploymentStatus.Succeeded ? ReleaseRunStatus.Succeeded : ReleaseRunStatus.Failed,
                    Error = summary.Status == DeploymentStatus.Succeeded ? null : Describe(summary),
                };
            }
            catch (Exception exception) when (IsRunFailure(exception))
            {
                run = run with
                {
                    DeploymentId = recorder.DeploymentId,
                    Status = ReleaseRunStatus.Failed,
                    Error = exception is OperationCanceledException ? "cancelled" : $"{ErrorIdOf(exception)}: {exception.Message}",
                };
            }

            try
            {
                await recorder.WaitAsync().ConfigureAwait(false);
            }
            catch (StoreException)
            {
                // The early record of the id failed; the final write below carries it anyway.
            }

            run = run with { EndedAt = DateTimeOffset.UtcNow };
            await Store.Lifecycle.UpdateReleaseRunAsync(run, CancellationToken.None).ConfigureAwait(false);
            return run;
        }

        private async Task<DeploymentRequest> BuildRequestAsync(ReleaseRecord release, ReleaseEntry entry, string environment, string actor, StageOptions options,
            CancellationToken cancellationToken)
        {
            var instances = await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { entry.Service }, Environments = new[] { environment } }, cancellationToken)
                .ConfigureAwait(false);
            if (instances.Count == 0)
            {
                throw new LifecycleException(LifecycleErrorIds.ReleaseStageFailed, DeploymentErrorKind.ObjectNotFound,
                    $"No instance of {entry.Service} is registered in {environment}. Register them with Register-ServiceInstance -Service {entry.Service} -Environment {environment}.",
                    entry.Service);
            }

            var snapshot = entry.Snapshots.FirstOrDefault(s => string.Equals(s.Environment, environment, StringComparison.OrdinalIgnoreCase));
            var content = snapshot == null ? null : await Store.GetConfigSnapshotAsync(snapshot.Digest, cancellationToken).ConfigureAwait(false);
            if (snapshot == null || content == null || string.IsNullOrEmpty(entry.Checksum))
            {
                throw new LifecycleException(LifecycleErrorIds.ReleaseStageFailed, DeploymentErrorKind.ObjectNotFound,
                    $"The config or package checksum {entry.Service} was frozen with for {environment} is not in the store; the release cannot deploy what was approved.",
                    entry.Service);
            }

            return new DeploymentRequest
            {
                InstanceIds = instances.Select(i => i.InstanceId).ToList(),
                Version = entry.Version,
                PackageUrl = entry.PackageUrl,
                AllowLocalPackage = entry.AllowLocalPackage,
                // The frozen checksum: a package whose bytes changed since tagging is refused before anything is pushed.
                Checksum = entry.Checksum,
                Config = new ConfigSource
                {
                    ReadyContent = content,
                    FileName = snapshot.FileName,
                    ContentOrigin = $"frozen in release {release.ReleaseId} for {environment}",
                },
                Settings = options.Settings with { InitiatedBy = actor, RetryPolicy = options.Retry },
            };
        }

        private async Task<DeploymentSummary> StartWithRetriesAsync(DeploymentRequest request, IDeploymentObserver observer, RetryPolicy retry, CancellationToken cancellationToken)
        {
            var delay = retry.InitialDelay;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await _lifecycle.Engine.DeployAsync(request, observer, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (attempt < retry.MaxAttempts && IsTransient(exception) && !cancellationToken.IsCancellationRequested)
                {
                    observer.OnEvent(new DeploymentWarning { Message = $"{request.Version} of {string.Join(", ", request.InstanceIds)} could not start ({exception.Message}); retrying in {delay.TotalSeconds:0.###} s." });
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks((long)(delay.Ticks * retry.BackoffFactor));
                }
            }
        }

        /// <summary>A run that could not start for a passing reason: worth another try after a pause.</summary>
        private static bool IsTransient(Exception exception) => exception switch
        {
            DeploymentException d => d.Kind == DeploymentErrorKind.ConnectionError || d.Kind == DeploymentErrorKind.ResourceBusy || d.Kind == DeploymentErrorKind.ResourceUnavailable
                || d.ErrorId == EngineErrorIds.PackageDownloadFailed,
            StoreException s => s.ErrorId == StoreErrorIds.StoreUnavailable,
            _ => false,
        };

        private static bool IsRunFailure(Exception exception) =>
            exception is DeploymentException || exception is LifecycleException || exception is StoreException || exception is OperationCanceledException;

        private static string ErrorIdOf(Exception exception) => exception switch
        {
            DeploymentException d => d.ErrorId,
            LifecycleException l => l.ErrorId,
            StoreException s => s.ErrorId,
            _ => exception.GetType().Name,
        };

        private static string Describe(DeploymentSummary summary)
        {
            var failed = summary.Results.Where(r => r.Status != TargetStatus.Succeeded && r.Status != TargetStatus.Unchanged).ToList();
            var detail = string.Join(", ", failed.Take(3).Select(r => $"{r.InstanceId} {r.Status}{(r.FailedStep == null ? "" : " at " + r.FailedStep)}"));
            return $"{summary.DeploymentId} {summary.Status}: {failed.Count} of {summary.Total} instance(s) did not succeed ({detail}{(failed.Count > 3 ? ", ..." : "")})";
        }

        /// <summary>Passes a run's events on, and records the run's deployment id on the release as soon as the run exists.</summary>
        private sealed class RunIdRecorder : IDeploymentObserver
        {
            private readonly ILifecycleStore _store;
            private readonly ReleaseRunRecord _run;
            private readonly IDeploymentObserver? _inner;
            private readonly object _gate = new object();
            private Task _recorded = Task.CompletedTask;

            public RunIdRecorder(ILifecycleStore store, ReleaseRunRecord run, IDeploymentObserver? inner)
            {
                _store = store;
                _run = run;
                _inner = inner;
            }

            public string? DeploymentId { get; private set; }

            public void OnEvent(DeploymentEvent deploymentEvent)
            {
                if (deploymentEvent is DeploymentStarted started)
                {
                    lock (_gate)
                    {
                        DeploymentId = started.DeploymentId;
                        // Recorded off the engine's thread; awaited before the run's end is written, so the order holds.
                        var previous = _recorded;
                        _recorded = Task.Run(async () =>
                        {
                            await previous.ConfigureAwait(false);
                            await _store.UpdateReleaseRunAsync(_run with { DeploymentId = started.DeploymentId }, CancellationToken.None).ConfigureAwait(false);
                        });
                    }
                }

                _inner?.OnEvent(deploymentEvent);
            }

            public Task WaitAsync()
            {
                lock (_gate)
                {
                    return _recorded;
                }
            }
        }
    }
}
