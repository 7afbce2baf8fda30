using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Retries only the instances of a failed, cancelled or interrupted run that did not succeed, with the same
    /// package and config. Each deployment id is resumed once, however many piped objects carry it.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Resume, "Deployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(DeploymentResult))]
    public sealed class ResumeDeploymentCommand : DeploymentCommandBase
    {
        private readonly List<string> _deploymentIds = new List<string>();

        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
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
            foreach (var deploymentId in _deploymentIds)
            {
                var targets = Await(token => Session.Store.GetTargetsAsync(deploymentId, token));
                var remaining = targets.Count(t => t.Status != TargetStatus.Succeeded && t.Status != TargetStatus.Unchanged);
                var request = new ResumeRequest { DeploymentId = deploymentId, Settings = BuildSettings(new BatchLayout()) };
                if (!ConfirmRun(deploymentId, $"Resume: retry {remaining} of {targets.Count} instance(s) that did not succeed", null))
                {
                    continue;
                }

                RunWithOutput($"Resuming deployment {deploymentId}", (observer, token) => Session.Engine.ResumeAsync(request, observer, token));
            }
        }
    }
}
