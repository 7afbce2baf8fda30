using System;

namespace ReleaseTools
{
    /// <summary>The message shape a webhook receives (module-side twin of the engine's, so no engine type is in an output type).</summary>
    public enum ReleaseWebhookFormat : long
    {
        /// <summary>ReleaseTools' own JSON document, signed with HMAC-SHA256 when the webhook has a secret.</summary>
        Generic,
        /// <summary>A Lark (Feishu) custom bot card, signed when the bot verifies signatures.</summary>
        Lark,
        /// <summary>A Microsoft Teams Adaptive Card (Workflows webhook or incoming webhook).</summary>
        Teams,
        /// <summary>A Slack incoming webhook message.</summary>
        Slack,
    }

    /// <summary>Whether a notice reached a webhook.</summary>
    public enum ReleaseNotificationStatus : long
    {
        Delivered,
        Failed,
    }

    /// <summary>
    /// A webhook the store's release notices are posted to. Url is shown with its token hidden (scheme, host and first
    /// path segment only); the secret is never shown, only whether there is one.
    /// </summary>
    public sealed class ReleaseWebhook
    {
        public string Name { get; set; } = "";
        public ReleaseWebhookFormat Format { get; set; }
        public bool Enabled { get; set; }
        public string Url { get; set; } = "";
        public bool HasSecret { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }

        public override string ToString() => Name;
    }

    /// <summary>One notice's delivery to one webhook, from the store's delivery log (Get-ReleaseNotification) or a test (Test-ReleaseWebhook).</summary>
    public sealed class ReleaseNotification
    {
        /// <summary>The webhook's name; pipes into Get-ReleaseWebhook, Test-ReleaseWebhook and Unregister-ReleaseWebhook (their -Name has the alias Webhook).</summary>
        public string Webhook { get; set; } = "";
        public string ReleaseId { get; set; } = "";
        public string Event { get; set; } = "";
        public ReleaseNotificationStatus Status { get; set; }
        public int Attempts { get; set; }
        /// <summary>The HTTP status of the last answer; empty when none came (timeout, refused connection).</summary>
        public int? LastStatusCode { get; set; }
        /// <summary>Why the delivery failed, with the webhook's URL token and secret hidden.</summary>
        public string? Error { get; set; }
        public TimeSpan Elapsed { get; set; }
        public DateTimeOffset RecordedAt { get; set; }
        public string NoticeId { get; set; } = "";

        public override string ToString() => $"{Webhook} {Event} {Status}";
    }
}
