using System;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ReleaseTools.Engine.Lifecycle.Notifications.Formats
{
    /// <summary>
    /// A Lark (Feishu) custom bot message: an interactive card whose header is the headline (green, or red for bad news)
    /// and whose body lists the facts as plain text, so no release title or comment is read as markup. A bot with
    /// signature verification gets "timestamp" (unix seconds) and "sign": the base64 HMAC-SHA256 of an empty message
    /// under the key "timestamp\nsecret", as Lark's custom bot documentation specifies. Lark answers HTTP 200 even when
    /// it refuses a message; the refusal is a non-zero "code" in the answer, which <see cref="Refusal"/> reads.
    /// </summary>
    internal static class LarkMessage
    {
        public static WebhookMessage Render(ReleaseNotice notice, string? secret, DateTimeOffset now)
        {
            var card = new JsonObject
            {
                ["config"] = new JsonObject { ["wide_screen_mode"] = true },
                ["header"] = new JsonObject
                {
                    ["template"] = NoticeText.IsFailure(notice) ? "red" : "green",
                    ["title"] = new JsonObject { ["tag"] = "plain_text", ["content"] = NoticeText.Headline(notice) },
                },
                ["elements"] = new JsonArray(
                    new JsonObject { ["tag"] = "div", ["text"] = new JsonObject { ["tag"] = "plain_text", ["content"] = NoticeText.PlainLines(notice) } }),
            };

            var document = new JsonObject();
            if (!string.IsNullOrEmpty(secret))
            {
                var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                document["timestamp"] = timestamp;
                document["sign"] = Sign(timestamp, secret!);
            }

            document["msg_type"] = "interactive";
            document["card"] = card;
            return WebhookMessage.Json(document);
        }

        public static string Sign(string timestamp, string secret)
        {
            using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(timestamp + "\n" + secret));
            return Convert.ToBase64String(hmac.ComputeHash(Array.Empty<byte>()));
        }

        /// <summary>Lark's refusal in a 2xx answer ("code" or the older "StatusCode" not 0), or null when it took the message.</summary>
        public static string? Refusal(string body)
        {
            try
            {
                if (JsonNode.Parse(body) is JsonObject answer)
                {
                    var code = (answer["code"] ?? answer["StatusCode"])?.GetValue<long>();
                    if (code.HasValue && code.Value != 0)
                    {
                        var text = (answer["msg"] ?? answer["StatusMessage"])?.ToString();
                        return $"Lark refused the message: code {code.Value.ToString(CultureInfo.InvariantCulture)}{(string.IsNullOrEmpty(text) ? "" : " " + text)}";
                    }
                }
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException || ex is InvalidOperationException || ex is FormatException)
            {
                // Not Lark's JSON answer (a proxy's page, an empty body): the 2xx status is all there is to go on.
            }

            return null;
        }
    }
}
