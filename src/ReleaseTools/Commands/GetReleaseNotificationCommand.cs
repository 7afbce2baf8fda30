using System.Management.Automation;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Reads the store's delivery log: which webhook got which release notice, after how many attempts, and why one failed. Newest first.</summary>
    [Cmdlet(VerbsCommon.Get, "ReleaseNotification")]
    [OutputType(typeof(ReleaseNotification))]
    public sealed class GetReleaseNotificationCommand : ReleaseToolsCmdlet
    {
        /// <summary>Only deliveries of this release.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string? ReleaseId { get; set; }

        /// <summary>Only deliveries to this webhook.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Webhook { get; set; }

        /// <summary>Only Delivered or only Failed deliveries.</summary>
        [Parameter]
        public ReleaseNotificationStatus? Status { get; set; }

        /// <summary>At most this many deliveries (the newest).</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int Limit { get; set; } = 50;

        protected override void ProcessRecord()
        {
            var query = new WebhookDeliveryQuery
            {
                ReleaseId = ReleaseId,
                Webhook = Webhook,
                Status = Status is { } status ? OutputMapper.ByName<WebhookDeliveryStatus>(status) : null,
                Limit = Limit,
            };

            foreach (var delivery in Await(token => Session.Store.FindWebhookDeliveriesAsync(query, token)))
            {
                WriteObject(OutputMapper.ToOutput(delivery));
            }
        }
    }
}
