using System.Collections.Generic;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Returns instances to an earlier release, package and config together: all to -Version; a piped deployment result
    /// (or run target, or history entry) to what its instance ran before that deployment; otherwise each to the release
    /// before its current one. Instances that cannot be rolled back are refused, each with its own error, before any run
    /// is recorded.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "Rollback", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High,
        DefaultParameterSetName = BatchSizeSet)]
    [OutputType(typeof(DeploymentResult))]
    public sealed class InvokeRollbackCommand : TargetedDeploymentCommandBase
    {
        /// <summary>
        /// The version every instance goes back to (it must be in the instance's history). Not bound from the
        /// pipeline on purpose: piped objects carry the version they run now, not the one to return to.
        /// </summary>
        [Parameter]
        [ArgumentCompleter(typeof(RollbackVersionCompleter))]
        [ValidateNotNullOrEmpty]
        public string? Version { get; set; }

        private protected override string Verb => "roll back";

        private protected override void ReportNothingPiped(string message) => WriteVerbose(message);

        private protected override string Noun => "Rollback";

        private protected override void Run(IReadOnlyList<string> instanceIds, BatchLayout batches)
        {
            var request = new RollbackRequest
            {
                InstanceIds = instanceIds,
                Version = Version,
                // A piped DeploymentResult (or a run's target, or a history entry) is undone: back to what ran before that run.
                Undo = Version is null ? PipedOrigins : null,
                Settings = BuildSettings(batches),
            };

            var action = Version is null ? "Roll back to the previous release" : $"Roll back to version {Version}";
            if (!ConfirmRun(DescribeTargets(instanceIds), action, token => Session.Engine.PlanRollbackAsync(request, token),
                scope => Version is null ? $"Roll back {scope} to the release before their current one" : $"Roll back {scope} to version {Version}"))
            {
                return;
            }

            RunWithOutput(Version is null ? "Rolling back" : $"Rolling back to version {Version}", (observer, token) => Session.Engine.RollbackAsync(request, observer, token));
        }
    }
}
