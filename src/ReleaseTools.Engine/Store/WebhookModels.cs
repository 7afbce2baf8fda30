using System;

namespace ReleaseTools.Engine.Store
{
    /// <summary>The message shape a webhook receives.</summary>
    public enum WebhookFormat
    {
        /// <summary>ReleaseTools' own JSON document (the notice's fields), optionally signed with an HMAC-SHA256 header.</summary>
        Generic,
        /// <summary>A Lark (Feishu) custom bot message, optionally signed as Lark's signature verification asks.</summary>
        Lark,
        /// <summary>A Microsoft Teams incoming webhook message card.</summary>
        Teams,
        /// <summary>A Slack incoming webhook message (text with blocks).</summary>
        Slack,
    }

    /// <summary>What a caller supplies to add or replace one webhook of the store.</summary>
    public sealed record WebhookRegistration
    {
        public string Name { get; init; } = "";
        /// <summary>An absolute http or https URL; chat services put their token in it, so it is never shown whole.</summary>
        public string Url { get; init; } = "";
        public WebhookFormat Format { get; init; }
        public bool Enabled { get; init; } = true;
        /// <summary>Signs each Generic or Lark message when set; Teams and Slack incoming webhooks have no such thing.</summary>
        public string? Secret { get; init; }
    }

    /// <summary>One webhook every machine using the store posts release notices to.</summary>
    public sealed record WebhookRecord
    {
        public string Name { get; init; } = "";
        public string Url { get; init; } = "";
        public WebhookFormat Format { get; init; }
        public bool Enabled { get; init; }
        public string? Secret { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
    }

    public enum WebhookDeliveryStatus
    {
        Delivered,
        Failed,
    }

    /// <summary>What the notifier records once a webhook's delivery of a notice is settled (after its last attempt).</summary>
    public sealed record NewWebhookDelivery
    {
        public string Webhook { get; init; } = "";
        public string NoticeId { get; init; } = "";
        public string ReleaseId { get; init; } = "";
        public string Event { get; init; } = "";
        public WebhookDeliveryStatus Status { get; init; }
        public int Attempts { get; init; }
        public int? LastStatusCode { get; init; }
        /// <summary>Why the last attempt failed, already free of the webhook's URL tokens and secret.</summary>
        public string? Error { get; init; }
        public TimeSpan Elapsed { get; init; }
    }

    /// <summary>One settled delivery in the store's delivery log.</summary>
    public sealed record WebhookDeliveryRecord
    {
        public long Sequence { get; init; }
        public string Webhook { get; init; } = "";
        public string NoticeId { get; init; } = "";
        public string ReleaseId { get; init; } = "";
        public string Event { get; init; } = "";
        public WebhookDeliveryStatus Status { get; init; }
        public int Attempts { get; init; }
        public int? LastStatusCode { get; init; }
        public string? Error { get; init; }
        public TimeSpan Elapsed { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
    }

    /// <summary>Filter for the delivery log; null members match everything. Newest first, at most Limit rows.</summary>
    public sealed record WebhookDeliveryQuery
    {
        public string? Webhook { get; init; }
        public string? ReleaseId { get; init; }
        public WebhookDeliveryStatus? Status { get; init; }
        public int Limit { get; init; } = 100;
    }
}
