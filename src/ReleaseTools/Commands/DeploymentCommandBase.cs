using System;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Shared by Invoke-Deployment, Invoke-Rollback and Resume-Deployment: the run settings parameters, the
    /// confirmation/-WhatIf handling, and turning engine events into output, errors, warnings and progress.
    /// </summary>
    public abstract class DeploymentCommandBase : ReleaseToolsCmdlet
    {
        private RunProgress? _progress;

        /// <summary>How many instances of a batch are worked on at once (a sliding window).</summary>
        [Parameter]
        [ValidateRange(1, 1024)]
        public int ThrottleLimit { get; set; } = 5;

        /// <summary>How many instances may fail over the whole run before the -OnFailure action applies.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int FailureTolerance { get; set; }

        /// <summary>Percent of all instances that may fail before the -OnFailure action applies.</summary>
        [Parameter]
        [ValidateRange(0.0, 100.0)]
        public double FailurePercent { get; set; } = -1;

        /// <summary>What happens when a batch breaches the failure threshold: Stop, Rollback or Continue.</summary>
        [Parameter]
        [ValidateSet("Stop", "Rollback", "Continue")]
        public string OnFailure { get; set; } = "Stop";

        /// <summary>Retries of transient failures (connection errors, 5xx, timeouts) after the first attempt.</summary>
        [Parameter]
        [ValidateRange(0, 10)]
        public int RetryCount { get; set; } = 2;

        /// <summary>RSA private key (PEM) that signs every Floyd request. Default: RELEASETOOLS_PRIVATE_KEY.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PrivateKeyPath { get; set; }

        /// <summary>Skips the confirmation prompt.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Hash inside the request signature; must match the agents' --hash-algorithm.</summary>
        [Parameter]
        [ValidateSet("SHA1", "SHA256", IgnoreCase = true)]
        public string SignatureAlgorithm { get; set; } = "SHA1";

        /// <summary>
        /// Seconds a request to an agent may go without a byte sent or received before it fails (a stalled agent or
        /// network); a transient failure, so -RetryCount applies. The wait for an activation's answer is exempt.
        /// </summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int IdleTimeoutSeconds { get; set; } = (int)Engine.Floyd.FloydClientOptions.DefaultIdleTimeout.TotalSeconds;

        private protected RunSettings BuildSettings(BatchLayout batches, bool redeploy = false) => new RunSettings
        {
            Batches = batches,
            ThrottleLimit = ThrottleLimit,
            FailurePolicy = new FailurePolicy
            {
                MaxFailedInstances = FailureTolerance,
                MaxFailedPercent = MyInvocation.BoundParameters.ContainsKey(nameof(FailurePercent)) ? FailurePercent : (double?)null,
                Action = (FailureAction)Enum.Parse(typeof(FailureAction), OnFailure, ignoreCase: true),
            },
            RetryPolicy = new RetryPolicy { MaxAttempts = RetryCount + 1 },
            // -WhatIf needs no key: without one the plan comes from the store and says what it could not check.
            PrivateKeyPath = IsWhatIf ? TryResolvePrivateKey(PrivateKeyPath) ?? "" : ResolvePrivateKey(PrivateKeyPath),
            Floyd = FloydOptions(SignatureAlgorithm) with { IdleTimeout = TimeSpan.FromSeconds(IdleTimeoutSeconds) },
            Force = redeploy,
        };

        private protected static BatchLayout BatchLayoutOf(int batchSize, string[][]? batches)
            => batches is not null
                ? new BatchLayout { ExplicitBatches = batches.Select(b => (System.Collections.Generic.IReadOnlyList<string>)b).ToList() }
                : new BatchLayout { BatchSize = batchSize > 0 ? batchSize : (int?)null };

        /// <summary>
        /// -WhatIf: computes the engine's dry-run plan (read-only: a signed ping to each agent and a HEAD of the package, or
        /// the store alone without a key) and shows it as the "What if" message, then declines.
        /// -Force: proceeds without a prompt unless -Confirm was asked for explicitly. Otherwise the usual ShouldProcess.
        /// </summary>
        /// <param name="target">What the confirmation prompt names as the target.</param>
        /// <param name="action">The operation, as the confirmation prompt names it ("Deploy version 1.5.0").</param>
        /// <param name="sentence">Turns the plan's scope ("3 instances in 2 batches") into the start of the -WhatIf sentence.</param>
        private protected bool ConfirmRun(string target, string action, Func<CancellationToken, Task<DeploymentPlan>>? plan, Func<string, string>? sentence = null)
        {
            if (IsWhatIf)
            {
                var description = plan is null
                    ? $"Performing the operation \"{action}\" on target \"{target}\"."
                    : Describe(sentence ?? (scope => $"{action}: {scope}"), Await(plan));
                // The plan also goes to the information stream, where scripts can capture it (-InformationVariable).
                WriteInformation(description, new[] { "ReleaseTools", "WhatIf" });
                ShouldProcess(description, description, action);
                return false;
            }

            return ShouldProcessUnlessForced(Force, target, action);
        }

        /// <summary>
        /// One sentence for the whole plan ("Deploy version 2.0.0 to 3 instances in 2 batches: 3 would change, none
        /// already runs it; 384.0 KiB of package data would be sent."), then one line per batch.
        /// </summary>
        internal static string Describe(Func<string, string> sentence, DeploymentPlan plan)
        {
            var targets = plan.Batches.SelectMany(b => b.Targets).ToList();
            var outcomes = new System.Collections.Generic.List<string>
            {
                $"{Count(targets.Count(t => t.Action == PlannedAction.Change), "would change", "would change")}",
                $"{Count(targets.Count(t => t.Action == PlannedAction.AlreadyCurrent), "already runs its release", "already run their release")}",
            };
            AddIfAny(outcomes, targets.Count(t => t.Action == PlannedAction.Unreachable), "is unreachable", "are unreachable");
            AddIfAny(outcomes, targets.Count(t => t.Action == PlannedAction.HeldByOtherDeployment), "is held by another run", "are held by other runs");
            AddIfAny(outcomes, targets.Count(t => t.Action == PlannedAction.NoPreviousRelease), "has no earlier release", "have no earlier release");

            var text = new StringBuilder();
            text.Append(sentence($"{Plural(targets.Count, "instance")} in {Plural(plan.Batches.Count, "batch")}"));
            text.Append(": ").Append(string.Join(", ", outcomes));
            if (plan.BytesToSend is long bytes)
            {
                text.Append($"; {RunProgress.FormatBytes(bytes)} of package data would be sent");
            }

            text.Append('.');
            foreach (var batch in plan.Batches)
            {
                text.AppendLine();
                text.Append($"  Batch {batch.Batch}: ");
                text.Append(string.Join(", ", batch.Targets.Select(DescribeTarget)));
            }

            foreach (var unchecked_ in plan.NotChecked)
            {
                text.AppendLine();
                text.Append($"  Not checked: {unchecked_}");
            }

            return text.ToString();
        }

        private static string Plural(int count, string noun)
            => count.ToString(CultureInfo.InvariantCulture) + " " + (count == 1 ? noun : noun.EndsWith("ch", StringComparison.Ordinal) ? noun + "es" : noun + "s");

        private static string Count(int count, string one, string many)
            => (count == 0 ? "none" : count.ToString(CultureInfo.InvariantCulture)) + " " + (count == 1 ? one : count == 0 ? one : many);

        private static void AddIfAny(System.Collections.Generic.List<string> outcomes, int count, string one, string many)
        {
            if (count > 0)
            {
                outcomes.Add(Count(count, one, many));
            }
        }

        private static string DescribeTarget(PlannedTarget target)
        {
            var from = target.CurrentVersion ?? "(none)";
            return target.Action switch
            {
                PlannedAction.Change => $"{target.InstanceId} {from} -> {target.TargetVersion}{(target.NeedsPackage ? "" : " (package already there)")}",
                PlannedAction.AlreadyCurrent => $"{target.InstanceId} already runs {target.TargetVersion}",
                PlannedAction.Unreachable => $"{target.InstanceId} unreachable",
                PlannedAction.HeldByOtherDeployment => $"{target.InstanceId} held by {target.Detail ?? "another deployment"}",
                PlannedAction.NoPreviousRelease => $"{target.InstanceId} has no earlier release ({target.Detail})",
                PlannedAction.NothingToUndo => $"{target.InstanceId} left alone ({target.Detail})",
                _ => $"{target.InstanceId} {target.Action}",
            };
        }

        /// <summary>Runs an engine operation, writing one DeploymentResult per instance as it finishes.</summary>
        private protected DeploymentSummary RunWithOutput(string activity, Func<IDeploymentObserver, CancellationToken, Task<DeploymentSummary>> run)
        {
            _progress = new RunProgress(activity, WriteProgress);
            try
            {
                return RunDraining(run, OnEvent);
            }
            finally
            {
                _progress.Finish();
            }
        }

        private void OnEvent(DeploymentEvent deploymentEvent)
        {
            switch (deploymentEvent)
            {
                case DeploymentStarted started:
                    WriteVerbose($"{started.Operation} {started.DeploymentId} started: {started.TotalTargets} instance(s) in {started.BatchCount} batch(es).");
                    _progress!.Started(started.TotalTargets, started.BatchCount);
                    break;
                case PackageProgress package:
                    _progress!.Package(package);
                    break;
                case PackageUploadProgress upload:
                    _progress!.Upload(upload);
                    break;
                case BatchStarted batch:
                    WriteVerbose($"Batch {batch.Batch} started with {batch.InstanceCount} instance(s).");
                    _progress!.BatchStarted(batch.Batch);
                    break;
                case InstanceStepStarted step:
                    WriteVerbose($"{step.InstanceId}: {step.Step}{(step.Attempt > 1 ? $" (attempt {step.Attempt})" : "")}");
                    _progress!.Step(step);
                    break;
                case InstanceCompleted completed:
                    _progress!.InstanceCompleted(completed.Result.InstanceId);
                    WriteObject(OutputMapper.ToOutput(completed.Result));
                    if (ErrorMapping.IsFailure(completed.Result.Status))
                    {
                        WriteItemError(ErrorMapping.FromTarget(completed.Result, completed.Result.InstanceId));
                    }

                    break;
                case BatchCompleted batchDone:
                    WriteVerbose($"Batch {batchDone.Batch} finished: {batchDone.Succeeded} succeeded, {batchDone.Failed} failed, {batchDone.Unreachable} unreachable.");
                    if (batchDone.BreachedPolicy)
                    {
                        WriteReportedWarning("DeploymentFailureThresholdBreached", $"Batch {batchDone.Batch} pushed the run past its failure threshold; -OnFailure {OnFailure} applies.");
                    }

                    break;
                case DeploymentWarning warning:
                    WriteReportedWarning("DeploymentWarning", warning.Message);
                    break;
                case DeploymentNote note:
                    WriteVerbose(note.Message);
                    break;
                case InstanceRefused refused:
                    if (refused.Refusal.IsError)
                    {
                        WriteItemError(ErrorMapping.FromRefusal(refused.Refusal));
                    }
                    else
                    {
                        WriteReportedWarning(refused.Refusal.ErrorId, refused.Refusal.Message);
                    }

                    break;
                case DeploymentFinished finished:
                    var summary = finished.Summary;
                    WriteVerbose($"{summary.Operation} {summary.DeploymentId} {summary.Status}: {summary.Succeeded} succeeded, {summary.Unchanged} unchanged, {summary.Failed} failed, {summary.Unreachable} unreachable, {summary.Skipped} skipped in {summary.Duration}.");
                    break;
            }
        }
    }
}
