using System;
using System.Management.Automation;
using ReleaseTools.Engine.Lifecycle.Notifications;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Posts a test notice to webhooks (enabled or not) as a release transition would, with the same retries, and says
    /// what became of it; the delivery is recorded in the log like any other. A failure is a warning and a Failed
    /// result, so a loop over every webhook goes on.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "ReleaseWebhook")]
    [OutputType(typeof(ReleaseNotification))]
    public sealed class TestReleaseWebhookCommand : WebhookCommandBase
    {
        /// <summary>The release id a test notice carries, so the delivery log tells tests from real notices.</summary>
        public const string TestReleaseId = "test";

        /// <summary>Webhook names; wildcards allowed. Default: every webhook.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Webhook")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Name { get; set; }

        protected override void ProcessRecord()
        {
            var webhooks = SelectWebhooks(Name);
            if (webhooks.Count == 0)
            {
                return;
            }

            var actor = Environment.GetEnvironmentVariable("BUILD_REQUESTEDFOR");
            var notice = new ReleaseNotice
            {
                ReleaseId = TestReleaseId,
                ReleaseTitle = "ReleaseTools test notice",
                Event = "test",
                FromState = "PendingReview",
                FromStateCode = 0,
                ToState = "PendingReview",
                ToStateCode = 0,
                Actor = string.IsNullOrWhiteSpace(actor) ? Environment.UserName : actor!,
                Comment = $"Sent by Test-ReleaseWebhook from {Environment.MachineName} to check that this webhook receives release notices.",
            };

            var report = Await(token => Session.Notifier.DeliverAsync(webhooks, notice, token));
            foreach (var warning in report.Warnings)
            {
                WriteReportedWarning("ReleaseWebhookFailed", warning);
            }

            foreach (var delivery in report.Deliveries)
            {
                WriteObject(OutputMapper.ToOutput(delivery, notice));
            }
        }
    }
}
