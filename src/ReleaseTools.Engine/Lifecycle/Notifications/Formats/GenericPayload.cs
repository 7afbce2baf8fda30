using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ReleaseTools.Engine.Lifecycle.Notifications.Formats
{
    /// <summary>
    /// ReleaseTools' own JSON document: every field of the notice, in camelCase, under a schema name a receiver can
    /// switch on. With a secret, the header <see cref="SignatureHeader"/> carries "sha256=" and the lowercase hex
    /// HMAC-SHA256 of the exact body bytes under the secret (as GitHub signs its webhooks), so a receiver can tell the
    /// notice came from a holder of the secret; the notice id in the body lets it drop a retry it already handled.
    /// </summary>
    internal static class GenericPayload
    {
        public const string Schema = "releasetools.release-notice/1";
        public const string SignatureHeader = "X-ReleaseTools-Signature-256";
        public const string EventHeader = "X-ReleaseTools-Event";
        public const string NoticeHeader = "X-ReleaseTools-Notice";

        public static WebhookMessage Render(ReleaseNotice notice, string? secret)
        {
            var stage = notice.Stage;
            var document = new JsonObject
            {
                ["schema"] = Schema,
                ["noticeId"] = notice.NoticeId,
                ["kind"] = stage == null ? "transition" : "stage-result",
                ["release"] = new JsonObject { ["id"] = notice.ReleaseId, ["title"] = notice.ReleaseTitle },
                ["event"] = notice.Event,
                ["from"] = new JsonObject { ["state"] = notice.FromState, ["code"] = notice.FromStateCode },
                ["to"] = new JsonObject { ["state"] = notice.ToState, ["code"] = notice.ToStateCode },
                ["actor"] = notice.Actor,
                ["comment"] = notice.Comment,
                ["occurredAt"] = notice.OccurredAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                ["stage"] = stage == null ? null : new JsonObject
                {
                    ["stage"] = stage.Stage,
                    ["environment"] = stage.Environment,
                    ["runIds"] = new JsonArray(stage.RunIds.Select(id => (JsonNode?)JsonValue.Create(id)).ToArray()),
                    ["outcome"] = stage.Outcome == StageOutcome.Succeeded ? "succeeded" : "failed",
                    ["summary"] = stage.Summary,
                },
            };

            var message = WebhookMessage.Json(document);
            message.Headers[EventHeader] = notice.Event;
            message.Headers[NoticeHeader] = notice.NoticeId;
            if (!string.IsNullOrEmpty(secret))
            {
                message.Headers[SignatureHeader] = "sha256=" + Sign(message.Body, secret!);
            }

            return message;
        }

        public static string Sign(byte[] body, string secret)
        {
            using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
            var hash = hmac.ComputeHash(body);
            var hex = new StringBuilder(hash.Length * 2);
            foreach (var b in hash)
            {
                hex.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return hex.ToString();
        }
    }
}
