using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle.Notifications
{
    /// <summary>
    /// Delivers each notice to every enabled webhook of the store, all at once, and records each settled delivery in the
    /// store's delivery log.
    /// <para>
    /// Why synchronous and bounded rather than a background queue: ReleaseTools runs as commands in short-lived
    /// PowerShell sessions and pipeline jobs, so a queue would die with the session and lose exactly the notices of a
    /// failing run, and the person who fired the event could not be warned. Instead the caller awaits NotifyAsync after
    /// its transition committed, and it returns within <see cref="WebhookDeliveryOptions.Deadline"/> (30 s by default;
    /// a webhook that answers at once costs one round trip), with every failure both recorded and in the report's
    /// warnings. A webhook never changes what was committed.
    /// </para>
    /// </summary>
    public sealed class WebhookNotifier : IReleaseNotifier, IDisposable
    {
        /// <summary>Writing a delivery's log row after a cancelled or late delivery still gets this long.</summary>
        private static readonly TimeSpan RecordTimeout = TimeSpan.FromSeconds(10);

        private readonly IReleaseStore _store;
        private readonly WebhookDeliveryOptions _options;
        private readonly HttpClient _http;
        private readonly WebhookSender _sender;

        public WebhookNotifier(IReleaseStore store, WebhookDeliveryOptions? options = null)
        {
            _store = store ?? throw new ArgumentNullException(nameof(store));
            _options = options ?? WebhookDeliveryOptions.Default;
            // The sender times each attempt itself; the client's own timeout would only hide which attempt ran out.
            _http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = Timeout.InfiniteTimeSpan };
            _sender = new WebhookSender(_http, _options);
        }

        public WebhookDeliveryOptions Options => _options;

        public async Task<NotificationReport> NotifyAsync(ReleaseNotice notice, CancellationToken cancellationToken)
        {
            if (notice == null)
            {
                return new NotificationReport { Warnings = new[] { "No notice was given, so none was sent." } };
            }

            IReadOnlyList<WebhookRecord> webhooks;
            try
            {
                webhooks = (await _store.GetWebhooksAsync(cancellationToken).ConfigureAwait(false)).Where(w => w.Enabled).ToList();
            }
            catch (Exception ex)
            {
                return new NotificationReport { Warnings = new[] { $"Release {notice.ReleaseId} ({notice.Event}) was not announced: the webhooks could not be read from the store: {ex.Message}" } };
            }

            return await DeliverAsync(webhooks, notice, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Delivers to exactly these webhooks, enabled or not (how Test-ReleaseWebhook tries one), and records each delivery.</summary>
        public async Task<NotificationReport> DeliverAsync(IReadOnlyList<WebhookRecord> webhooks, ReleaseNotice notice, CancellationToken cancellationToken)
        {
            if (webhooks.Count == 0)
            {
                return NotificationReport.Empty;
            }

            using var deadline = new CancellationTokenSource(_options.Deadline);
            var deliveries = await Task.WhenAll(webhooks.Select(webhook => DeliverOneAsync(webhook, notice, deadline.Token, cancellationToken))).ConfigureAwait(false);
            return new NotificationReport
            {
                Deliveries = deliveries.Select(d => d.Result).ToList(),
                Warnings = deliveries.SelectMany(d => d.Warnings).ToList(),
            };
        }

        private async Task<(WebhookDeliveryResult Result, IReadOnlyList<string> Warnings)> DeliverOneAsync(WebhookRecord webhook, ReleaseNotice notice, CancellationToken deadline, CancellationToken cancellationToken)
        {
            // Off the caller's thread at once: rendering and connecting to one webhook never delays the others.
            await Task.Yield();
            var result = await _sender.SendAsync(webhook, notice, deadline, cancellationToken).ConfigureAwait(false);
            var warnings = new List<string>();
            if (!result.Delivered)
            {
                warnings.Add($"Webhook '{webhook.Name}' ({WebhookRules.Redact(webhook.Url)}) did not receive release {notice.ReleaseId} ({notice.Event}): {result.Error}");
            }

            try
            {
                using var recordTimeout = new CancellationTokenSource(RecordTimeout);
                await _store.RecordWebhookDeliveryAsync(new NewWebhookDelivery
                {
                    Webhook = webhook.Name,
                    NoticeId = notice.NoticeId,
                    ReleaseId = notice.ReleaseId,
                    Event = notice.Event,
                    Status = result.Delivered ? WebhookDeliveryStatus.Delivered : WebhookDeliveryStatus.Failed,
                    Attempts = result.Attempts,
                    LastStatusCode = result.LastStatusCode,
                    Error = result.Error,
                    Elapsed = result.Elapsed,
                }, recordTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                warnings.Add($"The delivery of release {notice.ReleaseId} ({notice.Event}) to webhook '{webhook.Name}' was not recorded in the store: {WebhookRules.Scrub(ex.Message, webhook.Url, webhook.Secret)}");
            }

            return (result, warnings);
        }

        public void Dispose() => _http.Dispose();
    }
}
