using System.Management.Automation;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Removes webhooks from the store: nothing more is posted to them. Their delivery log stays.</summary>
    [Cmdlet(VerbsLifecycle.Unregister, "ReleaseWebhook", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(ReleaseWebhook))]
    public sealed class UnregisterReleaseWebhookCommand : WebhookCommandBase
    {
        /// <summary>Webhook names; a value with wildcards means every webhook it matches (each confirmed on its own).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Webhook")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] Name { get; set; } = System.Array.Empty<string>();

        /// <summary>Skips the confirmation prompt.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Writes each removed webhook (as it was registered) to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            foreach (var webhook in SelectWebhooks(Name))
            {
                if (!ShouldProcessUnlessForced(Force, $"{webhook.Name} ({WebhookRules.Redact(webhook.Url)})", "Unregister release webhook"))
                {
                    continue;
                }

                if (Await(token => Session.Store.RemoveWebhookAsync(webhook.Name, token)) && PassThru)
                {
                    WriteObject(OutputMapper.ToOutput(webhook));
                }
            }
        }
    }
}
