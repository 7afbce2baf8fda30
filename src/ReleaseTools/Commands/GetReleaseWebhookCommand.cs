using System.Management.Automation;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Lists the store's webhooks, with their URLs' tokens hidden and their secrets never shown.</summary>
    [Cmdlet(VerbsCommon.Get, "ReleaseWebhook")]
    [OutputType(typeof(ReleaseWebhook))]
    public sealed class GetReleaseWebhookCommand : WebhookCommandBase
    {
        /// <summary>Webhook names; wildcards allowed. Default: every webhook.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Webhook")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Name { get; set; }

        protected override void ProcessRecord()
        {
            foreach (var webhook in SelectWebhooks(Name))
            {
                WriteObject(OutputMapper.ToOutput(webhook));
            }
        }
    }
}
