using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Commands
{
    /// <summary>Rejects releases in review (the reject event): a rejected release is final.</summary>
    [Cmdlet(VerbsLifecycle.Deny, "Release", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class DenyReleaseCommand : ReleaseEventCommandBase
    {
        private protected override string Action => "Reject the release (reject)";

        private protected override Task<LifecycleResult> FireAsync(string releaseId, string actor, CancellationToken cancellationToken) =>
            Session.Lifecycle.FireAsync(releaseId, ReleaseEvent.Reject, actor, Comment, cancellationToken);
    }
}
