using System;
using System.Management.Automation;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Creates a release in PendingReview: a named batch of services that is reviewed, approved, tagged, deployed to its
    /// pre-release environment, then to production. Add its services with Add-ReleaseItem.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "Release", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class NewReleaseCommand : ReleaseToolsCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = "";

        /// <summary>The environment the pre-release stage deploys every service to (its registered instances there).</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string PreEnvironment { get; set; } = "";

        /// <summary>The production environment.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string ProdEnvironment { get; set; } = "";

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Description { get; set; }

        /// <summary>Recorded with the creation row of the release's history.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Comment { get; set; }

        protected override void ProcessRecord()
        {
            if (!ShouldProcess($"{Name} ({PreEnvironment} then {ProdEnvironment})", "Create the release"))
            {
                return;
            }

            var actor = ReleaseIdentity.Current();
            var created = Await(token => Session.Lifecycle.CreateAsync(new NewRelease
            {
                Name = Name,
                Description = Description,
                PreEnvironment = PreEnvironment,
                ProdEnvironment = ProdEnvironment,
                CreatedBy = actor,
                Comment = Comment,
            }, Array.Empty<ReleaseEntry>(), token));
            var view = Await(token => Session.Lifecycle.GetViewAsync(created.Change.Release!, token));
            WriteVerbose($"Created release {view.Release.ReleaseId} as {actor}; add its services with Add-ReleaseItem.");
            WriteObject(ReleaseOutput.ToOutput(view));
        }
    }
}
