using System;
using System.Management.Automation;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Engine.Lifecycle.Stages;
using ReleaseTools.Hosting;
using EngineStage = ReleaseTools.Engine.Lifecycle.ReleaseStage;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Deploys a release's stage and waits for it: every service to the stage's environment (start_pre_deploy or
    /// start_prod_deploy), with exactly the package checksum and config frozen at tagging, then pre_deploy_completed /
    /// prod_deploy_completed when every service succeeded, or the failed event (back to Tagged / PreDeployed) when any failed.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "ReleaseStage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class StartReleaseStageCommand : ReleaseStageCommandBase
    {
        /// <summary>The releases whose stage to deploy; Release objects bind by property name.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ReleaseId { get; set; } = Array.Empty<string>();

        /// <summary>PreRelease (from Tagged; the scanner also starts it) or Production (from PreDeployed).</summary>
        [Parameter(Mandatory = true, Position = 1)]
        public ReleaseStage Stage { get; set; }

        /// <summary>Recorded with the start transition.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Comment { get; set; }

        /// <summary>Writes each release, as it is after its stage, to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            var stage = (EngineStage)(int)Stage;
            foreach (var id in ReleaseId)
            {
                if (!TryLifecycle(token => Session.Lifecycle.RequireAsync(id, token), out var release))
                {
                    continue;
                }

                var environment = StageRunner.EnvironmentOf(release, stage);
                if (IsWhatIf)
                {
                    ShouldProcess($"{id} ({release.Name}, {release.State})", $"Deploy the {Stage} stage to {environment}");
                    continue;
                }

                if (!ShouldProcessUnlessForced(Force, $"{id} ({release.Name}, {release.State})", $"Deploy the {Stage} stage to {environment}"))
                {
                    continue;
                }

                var options = BuildStageOptions();
                var actor = ReleaseIdentity.Current();
                if (!TryLifecycleItem(() => RunStage($"Release {id}: {Stage} to {environment}",
                    (observer, token) => new StageRunner(Session.Lifecycle).RunAsync(id, stage, actor, Comment, options, observer, token)), out var result))
                {
                    continue;
                }

                ReportStage(result);
                if (PassThru)
                {
                    WriteObject(ReleaseOutput.ToOutput(Await(token => Session.Lifecycle.GetViewAsync(id, token))));
                }
            }
        }
    }
}
