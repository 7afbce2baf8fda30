using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Commands
{
    /// <summary>Cancels releases (the cancel event) that are in review, approved, tagged or deployed to pre-release; never while a stage deploys.</summary>
    [Cmdlet(VerbsLifecycle.Stop, "Release", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class StopReleaseCommand : ReleaseEventCommandBase
    {
        private protected override string Action => "Cancel the release (cancel)";

        private protected override Task<LifecycleResult> FireAsync(string releaseId, string actor, CancellationToken cancellationToken) =>
            Session.Lifecycle.FireAsync(releaseId, ReleaseEvent.Cancel, actor, Comment, cancellationToken);
    }
}
