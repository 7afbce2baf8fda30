using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Commands
{
    /// <summary>Tags approved releases (the confirm_tag event): freezes each entry's package checksum (computing it from the package when none was given) and its config rendered for both environments.</summary>
    [Cmdlet(VerbsCommon.Lock, "Release", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class LockReleaseCommand : ReleaseEventCommandBase
    {
        private protected override string Action => "Tag and freeze the release (confirm_tag)";

        private protected override Task<LifecycleResult> FireAsync(string releaseId, string actor, CancellationToken cancellationToken) =>
            Session.Lifecycle.TagAsync(releaseId, actor, Comment, cancellationToken);
    }
}
