using System.Management.Automation;
using System.Net;
using System.Security;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Adds a webhook that every machine using the store posts release notices to (transitions and stage results). The
    /// URL is checked before anything is written and is never shown whole afterwards: chat services put their token in it.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Register, "ReleaseWebhook", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(ReleaseWebhook))]
    public sealed class RegisterReleaseWebhookCommand : ReleaseToolsCmdlet
    {
        /// <summary>The webhook's name in the store (letters, digits, '.', '_', '-'), unique in any case.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = "";

        /// <summary>The absolute http:// or https:// address the chat service or receiver issued.</summary>
        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Url { get; set; } = "";

        /// <summary>The message shape: Generic (ReleaseTools JSON), Lark, Teams or Slack.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public ReleaseWebhookFormat Format { get; set; } = ReleaseWebhookFormat.Generic;

        /// <summary>Signs each message: an HMAC-SHA256 header for Generic, Lark's signature for a Lark bot that verifies them.</summary>
        [Parameter]
        public SecureString? Secret { get; set; }

        /// <summary>Registers the webhook switched off: nothing is posted to it until Enable-ReleaseWebhook switches it on.</summary>
        [Parameter]
        public SwitchParameter Disabled { get; set; }

        /// <summary>Replaces a webhook of the same name instead of refusing it.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Writes the registered webhook to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            var registration = new WebhookRegistration
            {
                Name = Name,
                Url = Url,
                Format = OutputMapper.ByName<WebhookFormat>(Format),
                Enabled = !Disabled,
                Secret = Secret is null ? null : new NetworkCredential(string.Empty, Secret).Password,
            };

            if (WebhookRules.Check(registration) is { } problem)
            {
                WriteItemError(new ErrorRecord(new System.ArgumentException(problem.Message), problem.ErrorId, ErrorCategory.InvalidArgument, problem.Value));
                return;
            }

            var target = $"{Name} ({WebhookRules.Redact(Url)})";
            if (!ShouldProcess(target, Force ? "Register release webhook, replacing one of the same name" : "Register release webhook"))
            {
                return;
            }

            var saved = Await<WebhookRecord?>(async token =>
            {
                try
                {
                    return await Session.Store.SaveWebhookAsync(registration, Force, token).ConfigureAwait(false);
                }
                catch (StoreException exception) when (exception.ErrorId == StoreErrorIds.WebhookExists)
                {
                    return null;
                }
            });

            if (saved is null)
            {
                WriteItemError(new ErrorRecord(
                    new System.InvalidOperationException($"A webhook named '{Name}' is already registered in the store '{Session.StorePath}'. Pass -Force to replace it, or choose another name."),
                    StoreErrorIds.WebhookExists,
                    ErrorCategory.ResourceExists,
                    Name));
                return;
            }

            if (PassThru)
            {
                WriteObject(OutputMapper.ToOutput(saved));
            }
        }
    }
}
