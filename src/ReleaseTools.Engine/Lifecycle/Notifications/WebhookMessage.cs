using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReleaseTools.Engine.Lifecycle.Notifications.Formats;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle.Notifications
{
    /// <summary>One notice rendered for one webhook: the exact body bytes (what a signature covers) and the extra headers.</summary>
    internal sealed class WebhookMessage
    {
        private static readonly JsonSerializerOptions Compact = new JsonSerializerOptions { WriteIndented = false };

        private WebhookMessage(byte[] body)
        {
            Body = body;
        }

        public byte[] Body { get; }

        public Dictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        public static WebhookMessage Json(JsonNode document) => new WebhookMessage(JsonSerializer.SerializeToUtf8Bytes(document, Compact));

        /// <summary>The notice in the webhook's format, signed when the webhook has a secret and its format signs.</summary>
        public static WebhookMessage Render(WebhookRecord webhook, ReleaseNotice notice, DateTimeOffset now)
        {
            switch (webhook.Format)
            {
                case WebhookFormat.Lark:
                    return LarkMessage.Render(notice, webhook.Secret, now);
                case WebhookFormat.Teams:
                    return TeamsMessage.Render(notice);
                case WebhookFormat.Slack:
                    return SlackMessage.Render(notice);
                default:
                    return GenericPayload.Render(notice, webhook.Secret);
            }
        }
    }
}
