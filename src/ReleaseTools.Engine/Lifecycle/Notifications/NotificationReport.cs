using System;
using System.Collections.Generic;
using System.Linq;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle.Notifications
{
    /// <summary>What became of one notice: one entry per enabled webhook, delivered or not.</summary>
    public sealed record NotificationReport
    {
        public static NotificationReport Empty { get; } = new NotificationReport();

        public IReadOnlyList<WebhookDeliveryResult> Deliveries { get; init; } = Array.Empty<WebhookDeliveryResult>();

        /// <summary>The deliveries that failed after every attempt.</summary>
        public IReadOnlyList<WebhookDeliveryResult> Failures => Deliveries.Where(d => !d.Delivered).ToList();

        /// <summary>
        /// What the person who fired the event should see as warnings: one line per failed delivery, and a line when the
        /// webhooks could not be read or a delivery could not be recorded. Never holds a webhook's URL token or secret.
        /// </summary>
        public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
    }

    /// <summary>One webhook's delivery of one notice. Error never holds the webhook's URL or secret.</summary>
    public sealed record WebhookDeliveryResult
    {
        public string Webhook { get; init; } = "";
        public WebhookFormat Format { get; init; }
        public bool Delivered { get; init; }
        public int Attempts { get; init; }
        /// <summary>The HTTP status of the last answer; null when no answer came (timeout, refused connection).</summary>
        public int? LastStatusCode { get; init; }
        public string? Error { get; init; }
        public TimeSpan Elapsed { get; init; }
    }
}
