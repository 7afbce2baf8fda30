using System.Linq;
using System.Text.Json.Nodes;

namespace ReleaseTools.Engine.Lifecycle.Notifications.Formats
{
    /// <summary>
    /// A Microsoft Teams message: an Adaptive Card (1.4) in a "message" attachment, the shape both the Workflows
    /// ("Post to a channel when a webhook request is received") webhooks and the older incoming webhook connectors
    /// accept: the headline as a bold text block (red for bad news) and the facts as a FactSet.
    /// </summary>
    internal static class TeamsMessage
    {
        public static WebhookMessage Render(ReleaseNotice notice)
        {
            var facts = NoticeText.Facts(notice).Select(f => (JsonNode?)new JsonObject { ["title"] = f.Key, ["value"] = f.Value })
                .Concat(new JsonNode?[] { new JsonObject { ["title"] = "At", ["value"] = NoticeText.When(notice) } })
                .ToArray();
            var card = new JsonObject
            {
                ["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json",
                ["type"] = "AdaptiveCard",
                ["version"] = "1.4",
                ["body"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "TextBlock",
                        ["text"] = NoticeText.Headline(notice),
                        ["weight"] = "Bolder",
                        ["size"] = "Medium",
                        ["wrap"] = true,
                        ["color"] = NoticeText.IsFailure(notice) ? "Attention" : "Good",
                    },
                    new JsonObject { ["type"] = "FactSet", ["facts"] = new JsonArray(facts) }),
            };

            return WebhookMessage.Json(new JsonObject
            {
                ["type"] = "message",
                ["summary"] = NoticeText.Headline(notice),
                ["attachments"] = new JsonArray(new JsonObject
                {
                    ["contentType"] = "application/vnd.microsoft.card.adaptive",
                    ["contentUrl"] = null,
                    ["content"] = card,
                }),
            });
        }
    }
}
