using System;
using System.Collections.Generic;
using System.Linq;

namespace ReleaseTools.Engine.Lifecycle.Notifications
{
    /// <summary>What became of one notice: one entry per enabled webhook, delivered or not.</summary>
    public sealed record NotificationReport
    {
        public static NotificationReport Empty { get; } = new NotificationReport();

        public IReadOnlyList<WebhookDeliveryResult> Deliveries { get; init; } = Array.Empty<WebhookDeliveryResult>();

        /// <summary>The deliveries that failed after every attempt: each one is a warning for the person who fired the event.</summary>
        public IReadOnlyList<WebhookDeliveryResult> Failures => Deliveries.Where(d => !d.Delivered).ToList();
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

    /// <summary>The message shape a webhook receives.</summary>
    public enum WebhookFormat
    {
        /// <summary>ReleaseTools' own JSON document (the notice's fields), optionally signed with an HMAC-SHA256 header.</summary>
        Generic,
        /// <summary>A Lark (Feishu) custom bot message.</summary>
        Lark,
        /// <summary>A Microsoft Teams incoming webhook message card.</summary>
        Teams,
        /// <summary>A Slack incoming webhook message (text with blocks).</summary>
        Slack,
    }
}
