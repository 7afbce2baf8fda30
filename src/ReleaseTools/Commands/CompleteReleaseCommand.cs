using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Commands
{
    /// <summary>Accepts releases deployed to production (the final_accept event): the release is done.</summary>
    [Cmdlet(VerbsLifecycle.Complete, "Release", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class CompleteReleaseCommand : ReleaseEventCommandBase
    {
        private protected override string Action => "Accept the release in production (final_accept)";

        private protected override Task<LifecycleResult> FireAsync(string releaseId, string actor, CancellationToken cancellationToken) =>
            Session.Lifecycle.FireAsync(releaseId, ReleaseEvent.FinalAccept, actor, Comment, cancellationToken);
    }
}
