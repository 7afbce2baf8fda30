using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Executes a prepared run: batches in order, instances of a batch under the throttle as a sliding window, the
    /// failure policy after each batch, and a final status. Leases are held (and renewed) for the whole run and
    /// released at the end whatever happens.
    /// </summary>
    internal sealed class RunExecutor
    {
        private static readonly TimeSpan CancelledStateProbeTimeout = TimeSpan.FromSeconds(5);

        private readonly RunContext _run;
        private readonly IReleaseStore _store;
        private readonly LeaseCoordinator _leases;
        private readonly InstanceStepRunner _steps;
        private readonly object _heldGate = new object();
        private readonly List<TargetWork> _held = new List<TargetWork>();
        private long _packageBytesSent;
        // Instances whose lease the heartbeat found gone, with why; and a token per running instance to stop its steps.
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _lost =
            new System.Collections.Concurrent.ConcurrentDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, CancellationTokenSource> _working =
            new System.Collections.Concurrent.ConcurrentDictionary<string, CancellationTokenSource>(StringComparer.OrdinalIgnoreCase);

        public RunExecutor(RunContext run, IReleaseStore store, LeaseCoordinator leases)
        {
            _run = run;
            _store = store;
            _leases = leases;
            _steps = new InstanceStepRunner(run.Client, run.Settings.RetryPolicy, run.Settings.Force,
                $"ReleaseTools {run.Operation.ToString().ToLowerInvariant()} {run.DeploymentId}");
        }

        private EventPublisher Events => _run.Events;
        private FailurePolicy Policy => _run.Settings.FailurePolicy;

        public async Task<DeploymentSummary> ExecuteAsync(CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var stoppedByPolicy = false;
            var finalStatus = DeploymentStatus.Failed;
            Events.Publish(new DeploymentStarted { Operation = _run.Operation, TotalTargets = _run.TotalTargets, BatchCount = _run.Batches.Count });

            var heartbeat = _leases.StartHeartbeat(_run.DeploymentId, _run.AllTargets.Select(t => t.Instance.InstanceId).ToList(), Events, OnLeaseLost);
            try
            {
                await _store.SetDeploymentStatusAsync(_run.DeploymentId, DeploymentStatus.Running, CancellationToken.None).ConfigureAwait(false);
                var breached = false;
                for (var index = 0; index < _run.Batches.Count; index++)
                {
                    var batch = _run.Batches[index];
                    var number = index + 1;
                    if (stoppedByPolicy)
                    {
                        await CloseAllAsync(batch, TargetStatus.Skipped,
                            $"Not attempted: an earlier batch breached the failure policy ({Policy.Action}).").ConfigureAwait(false);
                        continue;
                    }

                    if (cancellationToken.IsCancellationRequested)
                    {
                        await CloseAllAsync(batch, TargetStatus.Cancelled, "Not attempted: the run was cancelled.").ConfigureAwait(false);
                        continue;
                    }

                    Events.Publish(new BatchStarted { Batch = number, InstanceCount = batch.Count });
                    var notStarted = await SlidingWindow.RunAsync(batch, _run.Settings.ThrottleLimit, t => RunTargetAsync(t, cancellationToken), cancellationToken)
                        .ConfigureAwait(false);
                    await CloseAllAsync(notStarted, TargetStatus.Cancelled, "Not attempted: the run was cancelled.").ConfigureAwait(false);

                    var all = _run.AllTargets.Select(t => t.Record.Status).ToList();
                    var nowBreached = !cancellationToken.IsCancellationRequested && FailurePolicyEvaluator.IsBreached(Policy,
                        all.Count(s => s == TargetStatus.Failed), all.Count(s => s == TargetStatus.Unreachable), _run.TotalTargets);
                    if (nowBreached && !breached)
                    {
                        breached = true;
                        await _run.Recorder.AuditAsync("failure-policy",
                            $"Batch {number} breached the failure policy (max {Policy.MaxFailedInstances} instances" +
                            (Policy.MaxFailedPercent.HasValue ? $" or {Policy.MaxFailedPercent}%" : "") + $"); action: {Policy.Action}.").ConfigureAwait(false);
                        if (Policy.Action == FailureAction.Rollback)
                        {
                            await RestoreBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                        }

                        stoppedByPolicy = Policy.Action != FailureAction.Continue;
                    }

                    PublishHeld();
                    var statuses = batch.Select(t => t.Record.Status).ToList();
                    Events.Publish(new BatchCompleted
                    {
                        Batch = number,
                        Succeeded = statuses.Count(s => s == TargetStatus.Succeeded || s == TargetStatus.Unchanged),
                        Failed = statuses.Count(s => s == TargetStatus.Failed),
                        Unreachable = statuses.Count(s => s == TargetStatus.Unreachable),
                        BreachedPolicy = nowBreached,
                    });
                }

                finalStatus = FinalStatus.Compute(cancellationToken.IsCancellationRequested, stoppedByPolicy,
                    _run.AllTargets.Select(t => t.Record.Status).ToList());
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Cancelled outside an instance's steps (e.g. while reading history for a restore): the rest never started.
                await CloseAllAsync(_run.AllTargets.Where(t => t.Record.Status == TargetStatus.Pending || t.Record.Status == TargetStatus.Running).ToList(),
                    TargetStatus.Cancelled, "Not attempted: the run was cancelled.").ConfigureAwait(false);
                PublishHeld();
                finalStatus = DeploymentStatus.Cancelled;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                await TryAuditAsync("aborted", $"The run stopped on an unexpected error: {ex.Message}").ConfigureAwait(false);
                throw;
            }
            finally
            {
                await heartbeat.StopAsync().ConfigureAwait(false);
                heartbeat.Dispose();
                try
                {
                    await _store.SetDeploymentStatusAsync(_run.DeploymentId, finalStatus, CancellationToken.None).ConfigureAwait(false);
                }
                finally
                {
                    await _leases.ReleaseAsync(_run.DeploymentId).ConfigureAwait(false);
                }
            }

            var summary = Summarize(finalStatus, clock.Elapsed);
            Events.Publish(new DeploymentFinished { Summary = summary });
            return summary;
        }

        private async Task RunTargetAsync(TargetWork target, CancellationToken cancellationToken)
        {
            if (target.SupersededReason != null)
            {
                await _run.Recorder.MarkAsync(target, TargetStatus.Superseded, target.SupersededReason).ConfigureAwait(false);
                Complete(target, null);
                return;
            }

            if (target.PresetFailure != null || target.Release == null)
            {
                var preset = target.PresetFailure ?? new StepFailure(TargetStatus.Failed, InstanceStepRunner.PingStep, EngineErrorIds.NoPreviousRelease,
                    $"Instance {target.Instance.InstanceId} has no release to go to.");
                target.Record = target.Record with { StartedAt = DateTimeOffset.UtcNow };
                await _run.Recorder.MarkFailedAsync(target, null, preset).ConfigureAwait(false);
                Complete(target, preset.ErrorId);
                return;
            }

            if (_lost.TryGetValue(target.Instance.InstanceId, out var lostBefore))
            {
                await MarkLeaseLostAsync(target, InstanceStepRunner.PingStep, lostBefore).ConfigureAwait(false);
                return;
            }

            _run.Recorder.MarkStarted(target);
            var lastStep = InstanceStepRunner.PingStep;
            InstanceOutcome outcome;
            using var working = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _working[target.Instance.InstanceId] = working;
            var upload = new ProgressThrottle();
            try
            {
                outcome = await _steps.RunAsync(target.Endpoint, target.Release, (step, attempt) =>
                {
                    if (step != InstanceStepRunner.RetryWaitStep)
                    {
                        lastStep = step;
                    }

                    Events.Publish(new InstanceStepStarted { InstanceId = target.Instance.InstanceId, Batch = target.Batch, Step = step, Attempt = attempt });
                }, working.Token, (sent, total) =>
                {
                    if (upload.ShouldReport(sent, total))
                    {
                        Events.Publish(new PackageUploadProgress { InstanceId = target.Instance.InstanceId, Batch = target.Batch, BytesSent = sent, TotalBytes = total });
                    }
                }, () => _run.Recorder.MarkRunningAsync(target)).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _lost.TryGetValue(target.Instance.InstanceId, out var lostDuring))
            {
                await MarkLeaseLostAsync(target, lastStep, lostDuring).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await RecordCancelledAsync(target, target.Release, lastStep).ConfigureAwait(false);
                return;
            }
            finally
            {
                _working.TryRemove(target.Instance.InstanceId, out _);
            }

            Interlocked.Add(ref _packageBytesSent, outcome.PackageBytes);
            target.Activation = outcome.Activation;
            if (outcome.Failure != null)
            {
                await _run.Recorder.MarkFailedAsync(target, outcome, outcome.Failure).ConfigureAwait(false);
                Complete(target, outcome.Failure.ErrorId);
                return;
            }

            var status = outcome.Unchanged ? TargetStatus.Unchanged : TargetStatus.Succeeded;
            await _run.Recorder.MarkSucceededAsync(target, target.Release, outcome, status, _run.Operation).ConfigureAwait(false);
            Complete(target, null);
        }

        /// <summary>The heartbeat found an instance's lease gone: no further request goes to it from this run.</summary>
        private void OnLeaseLost(string instanceId, string why)
        {
            if (!_lost.TryAdd(instanceId, why))
            {
                return;
            }

            Events.Warn($"This run lost the lease on {instanceId}: {why}. It sends that instance nothing more.");
            if (_working.TryGetValue(instanceId, out var working))
            {
                try
                {
                    working.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The instance finished between the renewal and now.
                }
            }
        }

        private async Task MarkLeaseLostAsync(TargetWork target, string step, string why)
        {
            var failure = new StepFailure(TargetStatus.Failed, step, EngineErrorIds.InstanceLeaseLost,
                $"This run stopped working on {target.Instance.InstanceId} at the {step} step because {why}. Check what the instance runs " +
                "(Test-ServiceInstance) before resuming this run.");
            target.Record = target.Record with { StartedAt = target.Record.StartedAt ?? DateTimeOffset.UtcNow };
            await TryAuditAsync("lease-lost", $"Lost the lease on {target.Instance.InstanceId} at the {step} step: {why}.").ConfigureAwait(false);
            await _run.Recorder.MarkFailedAsync(target, null, failure).ConfigureAwait(false);
            Complete(target, failure.ErrorId);
        }

        /// <summary>
        /// A target cancelled during activate or verify may already run the new release; one read-only ping tells,
        /// so the record states what the agent really runs. Before activation the agent is known to be unchanged.
        /// </summary>
        private async Task RecordCancelledAsync(TargetWork target, ReleaseSpec release, string lastStep)
        {
            var mayHaveSwitched = lastStep == InstanceStepRunner.ActivateStep || lastStep == InstanceStepRunner.VerifyStep;
            if (mayHaveSwitched)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(CancelledStateProbeTimeout);
                    var now = await _run.Client.PingAsync(target.Endpoint, new PingRequest
                    {
                        Service = release.Service,
                        Version = release.Version,
                        FVersion = release.FVersion,
                        PackageMd5 = release.Package.Md5,
                        Message = "state check after cancellation",
                    }, timeout.Token).ConfigureAwait(false);
                    if (string.Equals(now.CurrentFVersion, release.FVersion, StringComparison.Ordinal))
                    {
                        await _run.Recorder.MarkSucceededAsync(target, release, new InstanceOutcome { Attempts = Math.Max(1, target.Record.Attempts) },
                            TargetStatus.Succeeded, _run.Operation).ConfigureAwait(false);
                        Complete(target, null);
                        return;
                    }
                }
                catch (Exception ex) when (ex is FloydException || ex is OperationCanceledException)
                {
                    // Unknown state: the record says cancelled during activation, which tells an operator to check.
                }
            }

            target.Record = target.Record with { FailedStep = lastStep };
            await _run.Recorder.MarkAsync(target, TargetStatus.Cancelled,
                $"Cancelled during the {lastStep} step." + (mayHaveSwitched ? " The agent may or may not have switched; check its status." : " The agent keeps the release it ran."))
                .ConfigureAwait(false);
            Complete(target, EngineErrorIds.DeploymentCancelled);
        }

        /// <summary>The Rollback failure policy: this batch's instances that moved go back to the release they ran before the run.</summary>
        private async Task RestoreBatchAsync(IReadOnlyList<TargetWork> batch, CancellationToken cancellationToken)
        {
            // An instance whose lease this run lost belongs to another run now: it is not ours to restore.
            var moved = batch.Where(t => t.Record.Status == TargetStatus.Succeeded && !_lost.ContainsKey(t.Instance.InstanceId)).ToList();
            await SlidingWindow.RunAsync(moved, _run.Settings.ThrottleLimit, async target =>
            {
                var fromFVersion = target.Record.FromFVersion;
                if (string.IsNullOrEmpty(fromFVersion))
                {
                    Events.Warn($"{target.Instance.InstanceId} ran no release before this run, so it stays on {target.TargetVersion}.");
                    return;
                }

                var resolved = await _run.History.FVersionAsync(target.Instance, fromFVersion!, target.Record.FromVersion, cancellationToken).ConfigureAwait(false);
                if (resolved.Release == null)
                {
                    await NoteRestoreFailureAsync(target, resolved.Failure!.Message).ConfigureAwait(false);
                    return;
                }

                InstanceOutcome outcome;
                try
                {
                    outcome = await _steps.RunAsync(target.Endpoint, resolved.Release, (step, attempt) =>
                        Events.Publish(new InstanceStepStarted { InstanceId = target.Instance.InstanceId, Batch = target.Batch, Step = step, Attempt = attempt }),
                        cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    await NoteRestoreFailureAsync(target, "the run was cancelled before it finished").ConfigureAwait(false);
                    return;
                }

                Interlocked.Add(ref _packageBytesSent, outcome.PackageBytes);
                if (outcome.Failure != null)
                {
                    await NoteRestoreFailureAsync(target, outcome.Failure.Message).ConfigureAwait(false);
                    return;
                }

                await _run.Recorder.MarkSucceededAsync(target, resolved.Release, outcome, TargetStatus.RolledBack, DeploymentOperation.Rollback, restoring: true)
                    .ConfigureAwait(false);
                Complete(target, null);
            }, cancellationToken).ConfigureAwait(false);
        }

        private async Task NoteRestoreFailureAsync(TargetWork target, string why)
        {
            var message = $"Could not return {target.Instance.InstanceId} to {target.Record.FromVersion ?? "its previous release"}: {why} It still runs {target.TargetVersion}.";
            target.Record = target.Record with { Error = message };
            await _store.UpdateTargetAsync(target.Record, CancellationToken.None).ConfigureAwait(false);
            Events.Warn(message);
        }

        private async Task CloseAllAsync(IEnumerable<TargetWork> targets, TargetStatus status, string reason)
        {
            foreach (var target in targets)
            {
                await _run.Recorder.MarkAsync(target, status, reason).ConfigureAwait(false);
                Complete(target, status == TargetStatus.Cancelled ? EngineErrorIds.DeploymentCancelled : null);
            }
        }

        private void Complete(TargetWork target, string? errorId)
        {
            target.Result = TargetResults.From(target, _run.Operation, errorId);
            if (Policy.Action == FailureAction.Rollback && target.Record.Status == TargetStatus.Succeeded)
            {
                // Under the Rollback policy a success is final only once its batch passed the policy: held until then, so
                // an instance that is returned to its previous release writes one result, RolledBack, not two.
                lock (_heldGate)
                {
                    _held.Add(target);
                }

                return;
            }

            lock (_heldGate)
            {
                _held.Remove(target);
            }

            Events.Publish(new InstanceCompleted { Result = target.Result });
        }

        /// <summary>The held successes of the batch just evaluated, as their records now stand (a failed restore adds its note).</summary>
        private void PublishHeld()
        {
            List<TargetWork> held;
            lock (_heldGate)
            {
                held = _held.ToList();
                _held.Clear();
            }

            foreach (var target in held)
            {
                target.Result = TargetResults.From(target, _run.Operation, target.Result?.ErrorId);
                Events.Publish(new InstanceCompleted { Result = target.Result });
            }
        }

        private async Task TryAuditAsync(string kind, string message)
        {
            try
            {
                await _run.Recorder.AuditAsync(kind, message).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The original error matters more than a missing audit line.
            }
        }

        private DeploymentSummary Summarize(DeploymentStatus status, TimeSpan duration)
        {
            var results = _run.AllTargets.Select(t => t.Result ?? TargetResults.From(t, _run.Operation)).ToList();
            int Count(TargetStatus s) => results.Count(r => r.Status == s);
            return new DeploymentSummary
            {
                DeploymentId = _run.DeploymentId,
                Operation = _run.Operation,
                Status = status,
                Total = results.Count,
                Succeeded = Count(TargetStatus.Succeeded),
                Unchanged = Count(TargetStatus.Unchanged),
                Failed = Count(TargetStatus.Failed),
                Unreachable = Count(TargetStatus.Unreachable),
                Skipped = Count(TargetStatus.Skipped),
                RolledBack = Count(TargetStatus.RolledBack),
                Cancelled = Count(TargetStatus.Cancelled),
                PackageBytesSent = Interlocked.Read(ref _packageBytesSent),
                Duration = duration,
                Results = results,
            };
        }
    }
}
