using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ReleaseTools.Engine.Lifecycle.Notifications;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Tests.Store;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Lifecycle;

/// <summary>
/// The notifier against a real webhook receiver on loopback and a real store of each kind: what each format posts,
/// retries, failures that are recorded and warned about but never thrown, and URL tokens that never leak.
/// </summary>
public abstract class WebhookNotifierContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Short delays and timeouts so a test of four attempts takes milliseconds, not seconds.</summary>
    private static readonly WebhookDeliveryOptions Fast = new()
    {
        AttemptTimeout = TimeSpan.FromSeconds(5),
        RetryDelays = new[] { TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(40) },
        Deadline = TimeSpan.FromSeconds(20),
    };

    private readonly WebhookReceiver _receiver = new();
    private IStoreScope? _scope;

    private IStoreScope Scope => _scope ??= CreateScope();

    private IReleaseStore Store => Scope.Store;

    protected abstract IStoreScope CreateScope();

    public void Dispose()
    {
        _receiver.Dispose();
        _scope?.Dispose();
    }

    private static ReleaseNotice Approved => new()
    {
        ReleaseId = "R-1042",
        ReleaseTitle = "Orders & <payments> spring release",
        Event = "approve",
        FromState = "PendingReview",
        FromStateCode = 0,
        ToState = "Approved",
        ToStateCode = 5,
        Actor = @"CONTOSO\alice",
        Comment = "Looks good; ship it",
        OccurredAt = new DateTimeOffset(2026, 12, 1, 9, 30, 15, 250, TimeSpan.Zero),
    };

    private static ReleaseNotice PreReleaseFailed => Approved with
    {
        Event = "pre_deploy_failed",
        FromState = "PreDeploying",
        FromStateCode = 21,
        ToState = "Tagged",
        ToStateCode = 11,
        Actor = "scanner@build-7",
        Comment = null,
        Stage = new ReleaseStageResult
        {
            Stage = "PreRelease",
            Environment = "staging",
            RunIds = new[] { "d-20261201-0001", "d-20261201-0002" },
            Outcome = StageOutcome.Failed,
            Summary = "1 of 2 services deployed; orders failed at activate",
        },
    };

    private async Task<WebhookRecord> Register(string name, WebhookFormat format, string? path = null, string? secret = null, bool enabled = true) =>
        await Store.SaveWebhookAsync(new WebhookRegistration
        {
            Name = name,
            Url = _receiver.Url(path ?? $"hooks/{name}/T0SECRETTOKEN"),
            Format = format,
            Secret = secret,
            Enabled = enabled,
        }, false, None);

    private async Task<NotificationReport> Notify(ReleaseNotice notice, WebhookDeliveryOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var notifier = new WebhookNotifier(Store, options ?? Fast);
        return await notifier.NotifyAsync(notice, cancellationToken);
    }

    [SkippableFact]
    public async Task The_generic_payload_carries_every_field_of_a_transition_and_an_hmac_of_the_exact_body()
    {
        await Register("audit", WebhookFormat.Generic, secret: "generic-signing-secret");

        var report = await Notify(Approved);

        Assert.True(Assert.Single(report.Deliveries).Delivered);
        Assert.Empty(report.Warnings);
        var request = Assert.Single(_receiver.Received("hooks/audit/T0SECRETTOKEN"));
        Assert.Equal("POST", request.Method);
        Assert.StartsWith("application/json", request.Header("Content-Type"));
        Assert.StartsWith("ReleaseTools/", request.Header("User-Agent"));
        var expected = "sha256=" + Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes("generic-signing-secret"), request.Body)).ToLowerInvariant();
        Assert.Equal(expected, request.Header("X-ReleaseTools-Signature-256"));
        Assert.Equal("approve", request.Header("X-ReleaseTools-Event"));

        var json = request.Json;
        Assert.Equal("releasetools.release-notice/1", json.GetProperty("schema").GetString());
        Assert.Equal(request.Header("X-ReleaseTools-Notice"), json.GetProperty("noticeId").GetString());
        Assert.Equal("transition", json.GetProperty("kind").GetString());
        Assert.Equal("R-1042", json.GetProperty("release").GetProperty("id").GetString());
        Assert.Equal("Orders & <payments> spring release", json.GetProperty("release").GetProperty("title").GetString());
        Assert.Equal("approve", json.GetProperty("event").GetString());
        Assert.Equal(("PendingReview", 0), (json.GetProperty("from").GetProperty("state").GetString(), json.GetProperty("from").GetProperty("code").GetInt32()));
        Assert.Equal(("Approved", 5), (json.GetProperty("to").GetProperty("state").GetString(), json.GetProperty("to").GetProperty("code").GetInt32()));
        Assert.Equal(@"CONTOSO\alice", json.GetProperty("actor").GetString());
        Assert.Equal("Looks good; ship it", json.GetProperty("comment").GetString());
        Assert.Equal("2026-12-01T09:30:15.250Z", json.GetProperty("occurredAt").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("stage").ValueKind);
    }

    [SkippableFact]
    public async Task A_stage_result_in_the_generic_payload_names_the_stage_environment_runs_and_outcome_and_is_unsigned_without_a_secret()
    {
        await Register("audit", WebhookFormat.Generic);

        await Notify(PreReleaseFailed);

        var request = Assert.Single(_receiver.Received("hooks/audit/T0SECRETTOKEN"));
        Assert.Null(request.Header("X-ReleaseTools-Signature-256"));
        var json = request.Json;
        Assert.Equal("stage-result", json.GetProperty("kind").GetString());
        Assert.Equal(("Tagged", 11), (json.GetProperty("to").GetProperty("state").GetString(), json.GetProperty("to").GetProperty("code").GetInt32()));
        var stage = json.GetProperty("stage");
        Assert.Equal("PreRelease", stage.GetProperty("stage").GetString());
        Assert.Equal("staging", stage.GetProperty("environment").GetString());
        Assert.Equal(new[] { "d-20261201-0001", "d-20261201-0002" }, stage.GetProperty("runIds").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("failed", stage.GetProperty("outcome").GetString());
        Assert.Equal("1 of 2 services deployed; orders failed at activate", stage.GetProperty("summary").GetString());
    }

    [SkippableFact]
    public async Task A_lark_webhook_gets_an_interactive_card_signed_as_lark_custom_bots_verify()
    {
        await Register("lark", WebhookFormat.Lark, secret: "lark-bot-secret");

        await Notify(PreReleaseFailed);

        var json = Assert.Single(_receiver.Received("hooks/lark/T0SECRETTOKEN")).Json;
        var timestamp = json.GetProperty("timestamp").GetString()!;
        Assert.InRange(long.Parse(timestamp), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        var expectedSign = Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(timestamp + "\n" + "lark-bot-secret"), Array.Empty<byte>()));
        Assert.Equal(expectedSign, json.GetProperty("sign").GetString());
        Assert.Equal("interactive", json.GetProperty("msg_type").GetString());
        var card = json.GetProperty("card");
        Assert.Equal("red", card.GetProperty("header").GetProperty("template").GetString());
        Assert.Equal("plain_text", card.GetProperty("header").GetProperty("title").GetProperty("tag").GetString());
        Assert.Equal("Release Orders & <payments> spring release (R-1042): PreRelease stage failed in staging",
            card.GetProperty("header").GetProperty("title").GetProperty("content").GetString());
        var text = card.GetProperty("elements")[0].GetProperty("text");
        Assert.Equal("plain_text", text.GetProperty("tag").GetString());
        Assert.Contains("State: PreDeploying (21) → Tagged (11)", text.GetProperty("content").GetString());
        Assert.Contains("Runs: d-20261201-0001, d-20261201-0002", text.GetProperty("content").GetString());
        Assert.Contains("At: 2026-12-01 09:30:15 UTC", text.GetProperty("content").GetString());
    }

    [SkippableFact]
    public async Task An_unsigned_lark_message_has_no_timestamp_or_sign_and_lark_refusing_it_in_a_200_answer_is_a_failure_not_retried()
    {
        await Register("lark", WebhookFormat.Lark);
        _receiver.Script("hooks/lark/T0SECRETTOKEN", new WebhookAnswer(200, "{\"code\":19021,\"msg\":\"sign match fail or timestamp is not within one hour from current time\",\"data\":{}}"));

        var report = await Notify(Approved);

        var json = Assert.Single(_receiver.Received("hooks/lark/T0SECRETTOKEN")).Json;
        Assert.False(json.TryGetProperty("timestamp", out _));
        Assert.False(json.TryGetProperty("sign", out _));
        var delivery = Assert.Single(report.Deliveries);
        Assert.False(delivery.Delivered);
        Assert.Equal((1, (int?)200), (delivery.Attempts, delivery.LastStatusCode));
        Assert.Equal("Lark refused the message: code 19021 sign match fail or timestamp is not within one hour from current time", delivery.Error);
    }

    [SkippableFact]
    public async Task A_teams_webhook_gets_an_adaptive_card_message_with_the_facts()
    {
        await Register("teams", WebhookFormat.Teams);

        await Notify(Approved);

        var json = Assert.Single(_receiver.Received("hooks/teams/T0SECRETTOKEN")).Json;
        Assert.Equal("message", json.GetProperty("type").GetString());
        var attachment = json.GetProperty("attachments")[0];
        Assert.Equal("application/vnd.microsoft.card.adaptive", attachment.GetProperty("contentType").GetString());
        var card = attachment.GetProperty("content");
        Assert.Equal("AdaptiveCard", card.GetProperty("type").GetString());
        Assert.Equal("1.4", card.GetProperty("version").GetString());
        var headline = card.GetProperty("body")[0];
        Assert.Equal(("TextBlock", "Release Orders & <payments> spring release (R-1042): approve → Approved", "Good"),
            (headline.GetProperty("type").GetString(), headline.GetProperty("text").GetString(), headline.GetProperty("color").GetString()));
        var facts = card.GetProperty("body")[1];
        Assert.Equal("FactSet", facts.GetProperty("type").GetString());
        var byTitle = facts.GetProperty("facts").EnumerateArray().ToDictionary(f => f.GetProperty("title").GetString()!, f => f.GetProperty("value").GetString());
        Assert.Equal("PendingReview (0) → Approved (5)", byTitle["State"]);
        Assert.Equal(@"CONTOSO\alice", byTitle["By"]);
        Assert.Equal("Looks good; ship it", byTitle["Comment"]);
        Assert.Equal("2026-12-01 09:30:15 UTC", byTitle["At"]);
    }

    [SkippableFact]
    public async Task A_slack_webhook_gets_text_and_blocks_with_its_markup_characters_escaped()
    {
        await Register("slack", WebhookFormat.Slack);

        await Notify(Approved with { Comment = "<!channel> see <https://evil.test|this>" });

        var json = Assert.Single(_receiver.Received("hooks/slack/T0SECRETTOKEN")).Json;
        Assert.Equal("Release Orders &amp; &lt;payments&gt; spring release (R-1042): approve → Approved", json.GetProperty("text").GetString());
        var blocks = json.GetProperty("blocks");
        Assert.Equal("header", blocks[0].GetProperty("type").GetString());
        Assert.Equal("plain_text", blocks[0].GetProperty("text").GetProperty("type").GetString());
        var fields = blocks[1].GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("text").GetString()!).ToList();
        Assert.All(blocks[1].GetProperty("fields").EnumerateArray(), f => Assert.Equal("mrkdwn", f.GetProperty("type").GetString()));
        Assert.Contains("*Comment*\n&lt;!channel&gt; see &lt;https://evil.test|this&gt;", fields);
        Assert.Contains("*State*\nPendingReview (0) → Approved (5)", fields);
        Assert.Equal("context", blocks[2].GetProperty("type").GetString());
    }

    [SkippableFact]
    public async Task A_500_is_retried_and_the_delivery_that_then_succeeds_is_recorded_with_its_attempts()
    {
        await Register("flaky", WebhookFormat.Generic);
        _receiver.Script("hooks/flaky/T0SECRETTOKEN", 500, 200);

        var report = await Notify(Approved);

        var delivery = Assert.Single(report.Deliveries);
        Assert.Equal((true, 2, (int?)200, (string?)null), (delivery.Delivered, delivery.Attempts, delivery.LastStatusCode, delivery.Error));
        Assert.Empty(report.Warnings);
        var posts = _receiver.Received("hooks/flaky/T0SECRETTOKEN");
        Assert.Equal(2, posts.Count);
        Assert.Equal(posts[0].Text, posts[1].Text);
        var logged = Assert.Single(await Store.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None));
        Assert.Equal(("flaky", "R-1042", "approve", WebhookDeliveryStatus.Delivered, 2, (int?)200), (logged.Webhook, logged.ReleaseId, logged.Event, logged.Status, logged.Attempts, logged.LastStatusCode));
        Assert.Equal(posts[0].Json.GetProperty("noticeId").GetString(), logged.NoticeId);
    }

    [SkippableFact]
    public async Task A_webhook_that_always_fails_is_recorded_as_failed_and_warned_about_while_the_others_are_delivered()
    {
        await Register("broken", WebhookFormat.Generic);
        await Register("chat", WebhookFormat.Slack);
        _receiver.Script("hooks/broken/T0SECRETTOKEN", 503);

        var report = await Notify(Approved);

        var broken = report.Deliveries.Single(d => d.Webhook == "broken");
        Assert.False(broken.Delivered);
        Assert.Equal((4, (int?)503), (broken.Attempts, broken.LastStatusCode));
        Assert.Equal("failed after 4 attempt(s): HTTP 503 Service Unavailable: boom", broken.Error);
        Assert.Equal(4, _receiver.Received("hooks/broken/T0SECRETTOKEN").Count);
        Assert.True(report.Deliveries.Single(d => d.Webhook == "chat").Delivered);
        var warning = Assert.Single(report.Warnings);
        Assert.Equal($"Webhook 'broken' (http://127.0.0.1:{_receiver.Port}/hooks/***) did not receive release R-1042 (approve): failed after 4 attempt(s): HTTP 503 Service Unavailable: boom", warning);
        Assert.Equal(broken, Assert.Single(report.Failures));

        var log = await Store.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery { Status = WebhookDeliveryStatus.Failed }, None);
        var failed = Assert.Single(log);
        Assert.Equal(("broken", 4, (int?)503, broken.Error), (failed.Webhook, failed.Attempts, failed.LastStatusCode, failed.Error));
    }

    [SkippableFact]
    public async Task A_refusal_such_as_404_is_not_retried()
    {
        await Register("gone", WebhookFormat.Slack);
        _receiver.Script("hooks/gone/T0SECRETTOKEN", new WebhookAnswer(404, "no_service"));

        var report = await Notify(Approved);

        var delivery = Assert.Single(report.Deliveries);
        Assert.Equal((false, 1, "HTTP 404 Not Found: no_service"), (delivery.Delivered, delivery.Attempts, delivery.Error));
        Assert.Single(_receiver.Received("hooks/gone/T0SECRETTOKEN"));
    }

    [SkippableFact]
    public async Task A_429_waits_as_long_as_its_retry_after_asks_up_to_the_cap()
    {
        await Register("limited", WebhookFormat.Generic);
        _receiver.Script("hooks/limited/T0SECRETTOKEN", new WebhookAnswer(429, "slow down", RetryAfter: "1"), WebhookAnswer.Ok());

        var report = await Notify(Approved, Fast with { MaxRetryAfter = TimeSpan.FromMilliseconds(600) });

        Assert.True(Assert.Single(report.Deliveries).Delivered);
        var posts = _receiver.Received("hooks/limited/T0SECRETTOKEN");
        Assert.Equal(2, posts.Count);
        Assert.InRange(posts[1].At - posts[0].At, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));
    }

    [SkippableFact]
    public async Task A_stalled_webhook_times_out_on_each_attempt_and_is_retried_as_a_webhook_that_does_not_answer()
    {
        await Register("stalled", WebhookFormat.Generic);
        _receiver.Script("hooks/stalled/T0SECRETTOKEN", new WebhookAnswer(200, "late", Stall: TimeSpan.FromSeconds(20)));

        // A second per attempt: long enough that on a loaded machine each attempt reaches the receiver before it
        // times out (the receiver's count is asserted), short enough that four attempts stay a few seconds.
        var report = await Notify(Approved, Fast with { AttemptTimeout = TimeSpan.FromSeconds(1) });

        var stalled = Assert.Single(report.Deliveries);
        Assert.Equal((false, 4, (int?)null), (stalled.Delivered, stalled.Attempts, stalled.LastStatusCode));
        Assert.Equal("failed after 4 attempt(s): no answer within 1 s", stalled.Error);
        Assert.Equal(4, _receiver.Received("hooks/stalled/T0SECRETTOKEN").Count);
    }

    [SkippableFact]
    public async Task The_deadline_bounds_the_whole_notice_however_slow_a_webhook_is_and_the_others_are_delivered()
    {
        await Register("stalled", WebhookFormat.Generic);
        await Register("quick", WebhookFormat.Generic);
        _receiver.Script("hooks/stalled/T0SECRETTOKEN", new WebhookAnswer(200, "late", Stall: TimeSpan.FromSeconds(20)));
        // The deadline leaves the quick webhook seconds to be delivered on a loaded machine (a first delivery pays for
        // connecting and JIT), and is far enough below the 20 s stall that the elapsed time proves what ended the wait.
        var options = Fast with { AttemptTimeout = TimeSpan.FromSeconds(15), Deadline = TimeSpan.FromSeconds(4) };
        var clock = Stopwatch.StartNew();

        var report = await Notify(Approved, options);

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(3.9), TimeSpan.FromSeconds(15));
        Assert.True(report.Deliveries.Single(d => d.Webhook == "quick").Delivered);
        var stalled = report.Deliveries.Single(d => d.Webhook == "stalled");
        Assert.Equal((false, 1, (int?)null), (stalled.Delivered, stalled.Attempts, stalled.LastStatusCode));
        Assert.Equal("gave up after 1 attempt(s): the notice's delivery deadline (4 s) passed; last attempt: stopped while waiting for an answer", stalled.Error);
        Assert.Single(await Store.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery { Webhook = "stalled", Status = WebhookDeliveryStatus.Failed }, None));
    }

    [SkippableFact]
    public async Task Neither_the_url_token_nor_the_secret_appears_in_an_error_a_warning_or_the_log_even_when_the_receiver_echoes_them()
    {
        const string path = "hooks/echo/services/T0AAA/B0BBB/xoxTOKENsecretvalue?sig=QUERYSIGNATURE123";
        var webhook = await Register("echo", WebhookFormat.Generic, path, secret: "signing-secret-42");
        _receiver.Script("hooks/echo/services/T0AAA/B0BBB/xoxTOKENsecretvalue",
            new WebhookAnswer(400, $"bad request to {webhook.Url} (token xoxTOKENsecretvalue, sig QUERYSIGNATURE123, key signing-secret-42)"));
        var closed = new WebhookReceiver();
        var unreachablePort = closed.Port;
        closed.Dispose();
        await Store.SaveWebhookAsync(new WebhookRegistration { Name = "down", Url = $"http://127.0.0.1:{unreachablePort}/hook/xoxDOWNTOKENvalue", Format = WebhookFormat.Generic }, false, None);

        var report = await Notify(Approved);

        var texts = report.Deliveries.Select(d => d.Error!).Concat(report.Warnings)
            .Concat((await Store.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None)).Select(d => d.Error!)).ToList();
        Assert.Equal(6, texts.Count);
        Assert.All(texts, text =>
        {
            Assert.DoesNotContain("xoxTOKENsecretvalue", text);
            Assert.DoesNotContain("QUERYSIGNATURE123", text);
            Assert.DoesNotContain("signing-secret-42", text);
            Assert.DoesNotContain("xoxDOWNTOKENvalue", text);
        });
        Assert.Contains(report.Warnings, w => w.StartsWith($"Webhook 'echo' (http://127.0.0.1:{_receiver.Port}/hooks/***)"));
        var echo = report.Deliveries.Single(d => d.Webhook == "echo");
        Assert.Equal("HTTP 400 Answer: bad request to *** (token ***, sig ***, key ***)", echo.Error);
        Assert.StartsWith("failed after 4 attempt(s): could not connect: ", report.Deliveries.Single(d => d.Webhook == "down").Error);
    }

    [SkippableFact]
    public async Task A_disabled_webhook_is_not_posted_to_and_a_store_without_webhooks_sends_nothing()
    {
        Assert.Empty((await Notify(Approved)).Deliveries);
        await Register("off", WebhookFormat.Generic, enabled: false);

        var report = await Notify(Approved);

        Assert.Empty(report.Deliveries);
        Assert.Empty(report.Warnings);
        Assert.Empty(_receiver.All);
    }

    [SkippableFact]
    public async Task A_cancelled_notice_returns_what_was_not_delivered_instead_of_throwing()
    {
        await Register("stalled", WebhookFormat.Generic);
        _receiver.Script("hooks/stalled/T0SECRETTOKEN", new WebhookAnswer(200, "late", Stall: TimeSpan.FromSeconds(20)));
        // Cancelled while the first attempt waits on the 20 s stall; two seconds so that attempt has surely started.
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(2));

        var report = await Notify(Approved, cancellationToken: cancel.Token);

        var delivery = Assert.Single(report.Deliveries);
        Assert.False(delivery.Delivered);
        Assert.StartsWith("cancelled after 1 attempt(s)", delivery.Error);
        Assert.Single(await Store.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery { Status = WebhookDeliveryStatus.Failed }, None));
    }

    [SkippableFact]
    public async Task A_store_that_cannot_be_read_is_a_warning_not_an_exception()
    {
        await Register("audit", WebhookFormat.Generic);
        var store = Scope.Open();
        store.Dispose();
        using var notifier = new WebhookNotifier(store, Fast);

        var report = await notifier.NotifyAsync(Approved, None);

        Assert.Empty(report.Deliveries);
        Assert.StartsWith("Release R-1042 (approve) was not announced: the webhooks could not be read from the store: ", Assert.Single(report.Warnings));
    }
}

public sealed class SqliteWebhookNotifierTests : WebhookNotifierContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresWebhookNotifierTests : WebhookNotifierContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}

/// <summary>How a webhook's URL is shown and scrubbed from texts.</summary>
public sealed class WebhookRulesTests
{
    [Theory]
    [InlineData("https://hooks.slack.com/services/T000/B000/XXXXXXXX", "https://hooks.slack.com/services/***")]
    [InlineData("https://open.larksuite.com/open-apis/bot/v2/hook/0d9e-4c1b-token", "https://open.larksuite.com/open-apis/***")]
    [InlineData("https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SIGNATURE", "https://prod-12.westeurope.logic.azure.com/workflows/***")]
    [InlineData("http://127.0.0.1:8088/notify", "http://127.0.0.1:8088/notify")]
    [InlineData("https://receiver.example.test/", "https://receiver.example.test")]
    [InlineData("https://receiver.example.test/?token=abc", "https://receiver.example.test/***")]
    [InlineData("not a url", "***")]
    public void A_url_is_shown_with_its_host_and_first_segment_only(string url, string shown) =>
        Assert.Equal(shown, WebhookRules.Redact(url));

    [Fact]
    public void Scrubbing_takes_out_the_whole_url_its_hidden_segments_query_values_and_the_secret()
    {
        const string url = "https://hooks.slack.com/services/T0AAAA/B0BBBB/tokenXYZ123?sig=abcd%2Bef";
        var text = $"POST {url} failed; path /services/T0AAAA/B0BBBB/tokenXYZ123 sig=abcd+ef secret hunter22";

        var scrubbed = WebhookRules.Scrub(text, url, "hunter22");

        Assert.Equal("POST *** failed; path /services/***/***/*** sig=*** secret ***", scrubbed);
    }
}
