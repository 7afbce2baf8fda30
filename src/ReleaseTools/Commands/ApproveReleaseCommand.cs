using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Commands
{
    /// <summary>Approves releases in review (the approve event), under the store's approval policy: the last approval the policy needs moves the release to Approved.</summary>
    [Cmdlet(VerbsLifecycle.Approve, "Release", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class ApproveReleaseCommand : ReleaseEventCommandBase
    {
        private protected override string Action => "Approve the release (approve)";

        private protected override Task<LifecycleResult> FireAsync(string releaseId, string actor, CancellationToken cancellationToken) =>
            Session.Lifecycle.ApproveAsync(releaseId, actor, Comment, cancellationToken);
    }
}
