using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Retries only what a failed, cancelled or interrupted run still owes (instances that did not reach its release and
    /// that no later run has moved), with the same package and config. Each run is resumed once, however many piped
    /// objects carry it or its earlier attempts.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Resume, "Deployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(DeploymentResult))]
    public sealed class ResumeDeploymentCommand : DeploymentCommandBase
    {
        private readonly List<string> _deploymentIds = new List<string>();

        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ResumableDeploymentIdCompleter))]
        [ValidateNotNullOrEmpty]
        public string[] DeploymentId { get; set; } = Array.Empty<string>();

        protected override void ProcessRecord()
        {
            foreach (var id in DeploymentId)
            {
                if (!_deploymentIds.Contains(id, StringComparer.OrdinalIgnoreCase))
                {
                    _deploymentIds.Add(id);
                }
            }
        }

        protected override void EndProcessing()
        {
            // A resumed run is taken over by its resume: every id is first mapped to the run that now owes its instances,
            // so piping a run and its resume (Get-ReleaseDeployment -Status Failed, Interrupted) resumes that run once.
            var runs = new List<string>();
            foreach (var requested in _deploymentIds)
            {
                if (Await(token => Session.Store.GetDeploymentAsync(requested, token)) is null)
                {
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No deployment '{requested}' is recorded in the store '{Session.StorePath}'. List recent runs with Get-ReleaseDeployment."),
                        EngineErrorIds.DeploymentNotFound,
                        ErrorCategory.ObjectNotFound,
                        requested));
                    continue;
                }

                var run = Await(token => Session.Engine.FindRunToResumeAsync(requested, token));
                if (!string.Equals(run.DeploymentId, requested, StringComparison.OrdinalIgnoreCase))
                {
                    WriteVerbose($"Deployment {requested} was resumed by {run.DeploymentId}; {run.DeploymentId} is the run to resume.");
                }

                if (!runs.Contains(run.DeploymentId, StringComparer.OrdinalIgnoreCase))
                {
                    runs.Add(run.DeploymentId);
                }
            }

            foreach (var deploymentId in runs)
            {
                var targets = Await(token => Session.Store.GetTargetsAsync(deploymentId, token));
                var remaining = targets.Count(t => t.Status != TargetStatus.Succeeded && t.Status != TargetStatus.Unchanged && t.Status != TargetStatus.Superseded);
                var request = new ResumeRequest { DeploymentId = deploymentId, Settings = BuildSettings(new BatchLayout()) };
                if (!ConfirmRun($"deployment {deploymentId}", $"Retry the {remaining} of its {targets.Count} instances that did not succeed", null))
                {
                    continue;
                }

                RunWithOutput($"Resuming deployment {deploymentId}", (observer, token) => Session.Engine.ResumeAsync(request, observer, token));
            }
        }
    }
}
