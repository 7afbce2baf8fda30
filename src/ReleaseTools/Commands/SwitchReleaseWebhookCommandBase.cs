using System.Management.Automation;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Enable-ReleaseWebhook and Disable-ReleaseWebhook: the same switch, on or off, with its URL and secret left as registered.</summary>
    public abstract class SwitchReleaseWebhookCommandBase : WebhookCommandBase
    {
        /// <summary>Webhook names; wildcards allowed (each confirmed on its own).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Webhook")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] Name { get; set; } = System.Array.Empty<string>();

        /// <summary>Writes each webhook, as it is now, to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        private protected abstract bool Enabled { get; }

        protected override void ProcessRecord()
        {
            foreach (var webhook in SelectWebhooks(Name))
            {
                if (!ShouldProcess($"{webhook.Name} ({WebhookRules.Redact(webhook.Url)})", Enabled ? "Enable release webhook" : "Disable release webhook"))
                {
                    continue;
                }

                var changed = Await(token => Session.Store.SetWebhookEnabledAsync(webhook.Name, Enabled, token));
                if (changed is not null && PassThru)
                {
                    WriteObject(OutputMapper.ToOutput(changed));
                }
            }
        }
    }
}
