using System.Management.Automation;

namespace ReleaseTools.Commands
{
    /// <summary>Switches webhooks off without forgetting them: nothing is posted to them until they are enabled again.</summary>
    [Cmdlet(VerbsLifecycle.Disable, "ReleaseWebhook", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(ReleaseWebhook))]
    public sealed class DisableReleaseWebhookCommand : SwitchReleaseWebhookCommandBase
    {
        private protected override bool Enabled => false;
    }
}
