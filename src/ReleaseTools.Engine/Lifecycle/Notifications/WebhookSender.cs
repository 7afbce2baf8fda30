using System;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle.Notifications.Formats;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle.Notifications
{
    /// <summary>
    /// Posts one notice to one webhook with its retries, and says what became of it. Never throws: every failure,
    /// cancellation included, is a result whose error text has the webhook's URL tokens and secret scrubbed out.
    /// Redirects are not followed: a POST that is redirected would be replayed as a GET, or carry the notice to an
    /// address nobody registered.
    /// </summary>
    internal sealed class WebhookSender
    {
        /// <summary>How much of a refusing answer's body is kept in the error: enough for Slack's "invalid_payload" or a JSON error.</summary>
        private const int AnswerExcerptLength = 300;

        private static readonly string UserAgent = "ReleaseTools/" + typeof(WebhookSender).Assembly.GetName().Version?.ToString(3);

        private readonly HttpClient _http;
        private readonly WebhookDeliveryOptions _options;

        public WebhookSender(HttpClient http, WebhookDeliveryOptions options)
        {
            _http = http;
            _options = options;
        }

        /// <param name="deadline">Cancelled when the notice's delivery deadline passes.</param>
        /// <param name="cancellationToken">The caller's token (Ctrl+C).</param>
        public async Task<WebhookDeliveryResult> SendAsync(WebhookRecord webhook, ReleaseNotice notice, CancellationToken deadline, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var attempts = 0;
            int? lastStatus = null;
            string? lastError = null;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(deadline, cancellationToken);

            WebhookDeliveryResult Result(bool delivered, string? error) => new WebhookDeliveryResult
            {
                Webhook = webhook.Name,
                Format = webhook.Format,
                Delivered = delivered,
                Attempts = attempts,
                LastStatusCode = lastStatus,
                Error = error == null ? null : WebhookRules.Scrub(error, webhook.Url, webhook.Secret),
                Elapsed = clock.Elapsed,
            };

            string GaveUp(string why) => lastError == null ? why : $"{why}; last attempt: {lastError}";

            for (var retry = 0; ; retry++)
            {
                if (stop.IsCancellationRequested)
                {
                    return Result(false, GaveUp(cancellationToken.IsCancellationRequested
                        ? $"cancelled after {attempts} attempt(s)"
                        : $"gave up after {attempts} attempt(s): the notice's delivery deadline ({_options.Deadline.TotalSeconds:0.#} s) passed"));
                }

                attempts++;
                var attempt = await AttemptAsync(webhook, notice, stop.Token).ConfigureAwait(false);
                lastStatus = attempt.StatusCode ?? lastStatus;
                if (attempt.Delivered)
                {
                    return Result(true, null);
                }

                lastError = attempt.Error;
                if (stop.IsCancellationRequested)
                {
                    continue;
                }

                if (!attempt.Retryable)
                {
                    return Result(false, lastError);
                }

                if (retry >= _options.RetryDelays.Count)
                {
                    return Result(false, $"failed after {attempts} attempt(s): {lastError}");
                }

                var delay = _options.RetryDelays[retry];
                if (attempt.RetryAfter is { } asked && asked > delay)
                {
                    delay = asked < _options.MaxRetryAfter ? asked : _options.MaxRetryAfter;
                }

                try
                {
                    await Task.Delay(delay, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Looped back to the check above, which names the reason.
                }
            }
        }

        private async Task<AttemptOutcome> AttemptAsync(WebhookRecord webhook, ReleaseNotice notice, CancellationToken stop)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(_options.AttemptTimeout);
            try
            {
                // Rendered per attempt: Lark's signature carries a timestamp that must be fresh.
                var message = WebhookMessage.Render(webhook, notice, DateTimeOffset.UtcNow);
                using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = new ByteArrayContent(message.Body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
                foreach (var header in message.Headers)
                {
                    request.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }

                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
                var body = response.Content == null ? "" : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                return Judge(webhook, response, body);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                return AttemptOutcome.Retry(null, $"no answer within {_options.AttemptTimeout.TotalSeconds:0.###} s");
            }
            catch (OperationCanceledException)
            {
                return AttemptOutcome.Retry(null, "stopped while waiting for an answer");
            }
            catch (HttpRequestException ex)
            {
                return AttemptOutcome.Retry(null, "could not connect: " + Innermost(ex));
            }
            catch (Exception ex) when (ex is System.IO.IOException || ex is System.Net.Sockets.SocketException)
            {
                return AttemptOutcome.Retry(null, "the connection failed: " + ex.Message);
            }
        }

        private static AttemptOutcome Judge(WebhookRecord webhook, HttpResponseMessage response, string body)
        {
            var code = (int)response.StatusCode;
            var status = $"HTTP {code.ToString(CultureInfo.InvariantCulture)} {response.ReasonPhrase}".TrimEnd();
            var excerpt = NoticeText.Truncate(body.Trim(), AnswerExcerptLength);
            var answered = string.IsNullOrEmpty(excerpt) ? status : $"{status}: {excerpt}";
            if (code >= 200 && code < 300)
            {
                var refusal = webhook.Format == WebhookFormat.Lark ? LarkMessage.Refusal(body) : null;
                return refusal == null ? AttemptOutcome.Success(code) : AttemptOutcome.Refused(code, refusal);
            }

            if (code >= 300 && code < 400)
            {
                return AttemptOutcome.Refused(code, $"{status}: the webhook redirects, which is not followed; register the address it redirects to");
            }

            if (code == 408 || code == 429 || code >= 500)
            {
                return AttemptOutcome.Retry(code, answered, RetryAfter(response));
            }

            return AttemptOutcome.Refused(code, answered);
        }

        private static TimeSpan? RetryAfter(HttpResponseMessage response)
        {
            var header = response.Headers.RetryAfter;
            if (header?.Delta is { } delta)
            {
                return delta;
            }

            if (header?.Date is { } date)
            {
                var wait = date - DateTimeOffset.UtcNow;
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }

            return null;
        }

        private static string Innermost(Exception ex)
        {
            while (ex.InnerException != null)
            {
                ex = ex.InnerException;
            }

            return ex.Message;
        }

        private sealed class AttemptOutcome
        {
            public bool Delivered { get; private set; }
            public bool Retryable { get; private set; }
            public int? StatusCode { get; private set; }
            public string? Error { get; private set; }
            public TimeSpan? RetryAfter { get; private set; }

            public static AttemptOutcome Success(int code) => new AttemptOutcome { Delivered = true, StatusCode = code };

            public static AttemptOutcome Refused(int code, string error) => new AttemptOutcome { StatusCode = code, Error = error };

            public static AttemptOutcome Retry(int? code, string error, TimeSpan? retryAfter = null) =>
                new AttemptOutcome { Retryable = true, StatusCode = code, Error = error, RetryAfter = retryAfter };
        }
    }
}
