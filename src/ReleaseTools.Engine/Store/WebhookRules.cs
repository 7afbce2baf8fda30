using System;
using System.Collections.Generic;
using System.Linq;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// The rules a webhook meets where it enters the store, and how its URL is shown. Chat services put the webhook's
    /// credential in its URL (Slack's /services/T…/B…/token, Lark's /hook/token, Teams' and Power Automate's ids and
    /// sig= query), so a URL is never shown whole: <see cref="Redact"/> keeps the scheme, host, port and first path
    /// segment, enough to tell which service it is, and <see cref="Scrub"/> takes every secret part out of an error text.
    /// </summary>
    public static class WebhookRules
    {
        public const string WebhookNameInvalid = "WebhookNameInvalid";
        public const string WebhookUrlInvalid = "WebhookUrlInvalid";
        public const string WebhookSecretInvalid = "WebhookSecretInvalid";
        public const string WebhookFormatInvalid = "WebhookFormatInvalid";

        /// <summary>Longer URLs are refused: no chat service issues one, and it would be a pasted document, not an address.</summary>
        public const int MaxUrlLength = 2048;

        public const int MaxSecretLength = 1024;

        private const string Hidden = "***";

        /// <summary>The first rule the webhook breaks, or null when it may enter the store. The problem's value never holds a secret.</summary>
        public static RegistrationProblem? Check(WebhookRegistration webhook)
        {
            if (webhook == null)
            {
                throw new ArgumentNullException(nameof(webhook));
            }

            if (!RegistrationRules.IsValidName(webhook.Name))
            {
                return new RegistrationProblem(WebhookNameInvalid, "Name", webhook.Name ?? "",
                    $"'{webhook.Name}' is not a webhook name: use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit.");
            }

            if (!Enum.IsDefined(typeof(WebhookFormat), webhook.Format))
            {
                return new RegistrationProblem(WebhookFormatInvalid, "Format", webhook.Format.ToString(),
                    $"Webhook '{webhook.Name}' has format {webhook.Format}; use Generic, Lark, Teams or Slack.");
            }

            if (!TryParseUrl(webhook.Url, out _, out var why))
            {
                return new RegistrationProblem(WebhookUrlInvalid, "Url", Redact(webhook.Url),
                    $"The URL of webhook '{webhook.Name}' ({Redact(webhook.Url)}) {why}. Give the absolute http:// or https:// address the chat service or receiver issued.");
            }

            if (webhook.Secret != null)
            {
                if (webhook.Format == WebhookFormat.Teams || webhook.Format == WebhookFormat.Slack)
                {
                    return new RegistrationProblem(WebhookSecretInvalid, "Secret", Hidden,
                        $"Webhook '{webhook.Name}' is a {webhook.Format} webhook, which signs nothing: its URL is its credential. Register it without a secret.");
                }

                if (webhook.Secret.Length == 0 || webhook.Secret.Length > MaxSecretLength || webhook.Secret.Trim().Length != webhook.Secret.Length)
                {
                    return new RegistrationProblem(WebhookSecretInvalid, "Secret", Hidden,
                        $"The secret of webhook '{webhook.Name}' must be 1 to {MaxSecretLength} characters without leading or trailing white space.");
                }
            }

            return null;
        }

        /// <summary>True for an absolute http or https URL with a host and no user name or password in it.</summary>
        public static bool TryParseUrl(string? url, out Uri? uri, out string why)
        {
            uri = null;
            if (string.IsNullOrWhiteSpace(url))
            {
                why = "is empty";
                return false;
            }

            if (url!.Length > MaxUrlLength)
            {
                why = $"is longer than {MaxUrlLength} characters";
                return false;
            }

            if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
            {
                why = "is not an absolute http:// or https:// URL";
                return false;
            }

            if (string.IsNullOrEmpty(parsed.Host))
            {
                why = "names no host";
                return false;
            }

            if (!string.IsNullOrEmpty(parsed.UserInfo))
            {
                why = "carries a user name or password, which would be sent to every redirect and shown in logs; put credentials in the secret or the path the service issued";
                return false;
            }

            uri = parsed;
            why = "";
            return true;
        }

        /// <summary>The URL as it may be shown: scheme, host, port and first path segment, the rest hidden.</summary>
        public static string Redact(string? url)
        {
            if (string.IsNullOrEmpty(url))
            {
                return "";
            }

            if (!Uri.TryCreate(url!.Trim(), UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                return Hidden;
            }

            var shown = uri.Scheme + "://" + uri.Host + (uri.IsDefaultPort ? "" : ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var segments = uri.AbsolutePath.Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries);
            if (segments.Length > 0)
            {
                shown += "/" + segments[0];
            }

            if (segments.Length > 1 || !string.IsNullOrEmpty(uri.Query))
            {
                shown += "/" + Hidden;
            }

            return shown;
        }

        /// <summary>
        /// <paramref name="text"/> with the webhook's URL, every hidden path segment and query value, and its secret
        /// replaced: for error texts that come from HTTP stacks and receivers, which may echo any of them.
        /// </summary>
        public static string Scrub(string? text, string? url, string? secret)
        {
            if (string.IsNullOrEmpty(text))
            {
                return text ?? "";
            }

            var result = text!;
            foreach (var secretPart in SecretParts(url, secret).OrderByDescending(p => p.Length))
            {
                result = result.Replace(secretPart, Hidden);
            }

            return result;
        }

        private static IEnumerable<string> SecretParts(string? url, string? secret)
        {
            if (!string.IsNullOrEmpty(secret))
            {
                yield return secret!;
            }

            if (string.IsNullOrEmpty(url))
            {
                yield break;
            }

            var trimmed = url!.Trim();
            yield return trimmed;
            if (!Uri.TryCreate(trimmed, UriKind.Absolute, out var uri))
            {
                yield break;
            }

            yield return uri.AbsoluteUri;
            var segments = uri.AbsolutePath.Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries);
            // The first segment stays visible in Redact, so it is no secret; a short one ("v2", "hook") would only
            // garble the text around it.
            foreach (var segment in segments.Skip(1).Where(s => s.Length >= 6))
            {
                yield return segment;
                yield return Uri.UnescapeDataString(segment);
            }

            foreach (var pair in uri.Query.TrimStart('?').Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
            {
                var value = pair.Substring(pair.IndexOf('=') + 1);
                if (value.Length >= 4)
                {
                    yield return value;
                    yield return Uri.UnescapeDataString(value);
                }
            }
        }
    }
}
