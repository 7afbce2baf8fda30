using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Lifecycle.Stages;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Start-ReleaseStage and Invoke-ReleaseScan: the settings of each service's deployment run (those of Invoke-Deployment),
    /// how many services deploy at once, the retry pause, and what the runs' events become on the pipeline thread.
    /// </summary>
    public abstract class ReleaseStageCommandBase : DeploymentCommandBase
    {
        private int _finishedRuns;

        /// <summary>Instances per batch in each service's run; 0 (default) deploys all of a service's instances in one batch.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int BatchSize { get; set; }

        /// <summary>How many services of a stage deploy at once.</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int ServiceThrottleLimit { get; set; } = 5;

        /// <summary>Seconds before the first retry of a transient failure; each later retry waits twice as long (1, 2, 4 s by default).</summary>
        [Parameter]
        [ValidateRange(0.0, 300.0)]
        public double RetryDelay { get; set; } = 1;

        private protected StageOptions BuildStageOptions()
        {
            // Three retries unless -RetryCount says otherwise: a stage runs unattended, so it rides out more than a person would.
            var retries = MyInvocation.BoundParameters.ContainsKey(nameof(RetryCount)) ? RetryCount : 3;
            return new StageOptions
            {
                Settings = BuildSettings(BatchLayoutOf(BatchSize, null)),
                ServiceThrottleLimit = ServiceThrottleLimit,
                Retry = new RetryPolicy { MaxAttempts = retries + 1, InitialDelay = TimeSpan.FromSeconds(RetryDelay), BackoffFactor = 2 },
            };
        }

        /// <summary>Runs stage work, turning its deployments' events into verbose lines, progress, warnings and per-instance errors.</summary>
        private protected T RunStage<T>(string activity, Func<IDeploymentObserver, CancellationToken, Task<T>> work)
        {
            _finishedRuns = 0;
            try
            {
                return RunDraining(work, deploymentEvent => OnStageEvent(activity, deploymentEvent));
            }
            finally
            {
                WriteProgress(new ProgressRecord(0, activity, "Done") { RecordType = ProgressRecordType.Completed });
            }
        }

        /// <summary>Writes a stage's outcome: a failed stage is the release's error (ReleaseStageFailed); notification failures are warnings.</summary>
        private protected void ReportStage(StageResult result)
        {
            WriteVerbose($"Release {result.Release.ReleaseId} {result.Stage}: {result.Summary}; it is {result.Release.State}.");
            foreach (var failure in result.NotificationFailures)
            {
                WriteReportedWarning("ReleaseNotificationFailed", $"Webhook '{failure.Webhook}' was not told of release {result.Release.ReleaseId}'s {result.Stage} result: {failure.Error}");
            }

            if (!result.Succeeded)
            {
                WriteItemError(new ErrorRecord(
                    new InvalidOperationException($"Release {result.Release.ReleaseId} ({result.Release.Name}): the {result.Stage} stage failed, so it is back to {result.Release.State}. {result.Summary}. " +
                        "Get-Release shows each run; Get-ReleaseDeployment -DeploymentId <id> shows its instances."),
                    "ReleaseStageFailed",
                    ErrorCategory.OperationStopped,
                    result.Release.ReleaseId));
            }
        }

        private void OnStageEvent(string activity, DeploymentEvent deploymentEvent)
        {
            switch (deploymentEvent)
            {
                case DeploymentStarted started:
                    WriteVerbose($"{started.DeploymentId} started: {started.TotalTargets} instance(s) in {started.BatchCount} batch(es).");
                    break;
                case InstanceStepStarted step:
                    WriteProgress(new ProgressRecord(0, activity, $"{_finishedRuns} service deployment(s) finished") { CurrentOperation = $"{step.InstanceId}: {step.Step}" });
                    break;
                case InstanceCompleted completed:
                    WriteVerbose($"{completed.Result.DeploymentId} {completed.Result.InstanceId}: {completed.Result.Status}.");
                    if (ErrorMapping.IsFailure(completed.Result.Status))
                    {
                        WriteItemError(ErrorMapping.FromTarget(completed.Result, completed.Result.InstanceId));
                    }

                    break;
                case DeploymentWarning warning:
                    WriteReportedWarning("DeploymentWarning", warning.Message);
                    break;
                case DeploymentNote note:
                    WriteVerbose(note.Message);
                    break;
                case DeploymentFinished finished:
                    _finishedRuns++;
                    WriteVerbose($"{finished.Summary.DeploymentId} {finished.Summary.Status}: {finished.Summary.Succeeded} succeeded, {finished.Summary.Unchanged} unchanged, " +
                        $"{finished.Summary.Failed} failed, {finished.Summary.Unreachable} unreachable.");
                    WriteProgress(new ProgressRecord(0, activity, $"{_finishedRuns} service deployment(s) finished"));
                    break;
            }
        }
    }
}
