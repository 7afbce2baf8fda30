using System.Linq;
using System.Text.Json.Nodes;

namespace ReleaseTools.Engine.Lifecycle.Notifications.Formats
{
    /// <summary>
    /// A Slack incoming webhook message: "text" (the headline, which notifications and clients without blocks show)
    /// and blocks: a header, a section of labelled fields and a context line with the time. Values are escaped as Slack's
    /// mrkdwn asks (&amp;, &lt;, &gt;) so a title or comment cannot ping a channel or forge a link; Slack's limits are
    /// kept (header 150 characters, at most 10 fields of at most 2000).
    /// </summary>
    internal static class SlackMessage
    {
        public static WebhookMessage Render(ReleaseNotice notice)
        {
            var headline = NoticeText.Headline(notice);
            var fields = NoticeText.Facts(notice).Take(10)
                .Select(f => (JsonNode?)new JsonObject { ["type"] = "mrkdwn", ["text"] = NoticeText.Truncate($"*{f.Key}*\n{Escape(f.Value)}", 2000) })
                .ToArray();
            return WebhookMessage.Json(new JsonObject
            {
                ["text"] = Escape(headline),
                ["blocks"] = new JsonArray(
                    new JsonObject { ["type"] = "header", ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = NoticeText.Truncate(headline, 150) } },
                    new JsonObject { ["type"] = "section", ["fields"] = new JsonArray(fields) },
                    new JsonObject
                    {
                        ["type"] = "context",
                        ["elements"] = new JsonArray(new JsonObject { ["type"] = "mrkdwn", ["text"] = (NoticeText.IsFailure(notice) ? ":red_circle: " : ":large_green_circle: ") + NoticeText.When(notice) }),
                    }),
            });
        }

        public static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
    }
}
