using System.Management.Automation;

namespace ReleaseTools.Commands
{
    /// <summary>Switches webhooks on: release notices are posted to them again.</summary>
    [Cmdlet(VerbsLifecycle.Enable, "ReleaseWebhook", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(ReleaseWebhook))]
    public sealed class EnableReleaseWebhookCommand : SwitchReleaseWebhookCommandBase
    {
        private protected override bool Enabled => true;
    }
}
