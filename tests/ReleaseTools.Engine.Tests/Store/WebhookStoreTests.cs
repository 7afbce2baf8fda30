using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>The webhook and delivery-log part of the store contract, run against every store (see the sealed classes at the end).</summary>
public abstract class WebhookStoreContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private IStoreScope? _scope;

    private IStoreScope Scope => _scope ??= CreateScope();

    private IReleaseStore Store => Scope.Store;

    protected abstract IStoreScope CreateScope();

    public void Dispose() => _scope?.Dispose();

    private static WebhookRegistration Hook(string name, WebhookFormat format = WebhookFormat.Generic, string? url = null, string? secret = null, bool enabled = true) => new()
    {
        Name = name,
        Url = url ?? $"https://hooks.example.test/{name}/T0123/B0456/token-{name}",
        Format = format,
        Enabled = enabled,
        Secret = secret,
    };

    private static NewWebhookDelivery Delivery(string webhook, string releaseId, WebhookDeliveryStatus status, string notice = "n-1") => new()
    {
        Webhook = webhook,
        NoticeId = notice,
        ReleaseId = releaseId,
        Event = "approve",
        Status = status,
        Attempts = status == WebhookDeliveryStatus.Delivered ? 1 : 3,
        LastStatusCode = status == WebhookDeliveryStatus.Delivered ? 200 : 500,
        Error = status == WebhookDeliveryStatus.Delivered ? null : "HTTP 500 Internal Server Error",
        Elapsed = TimeSpan.FromMilliseconds(1234),
    };

    [SkippableFact]
    public async Task A_saved_webhook_reads_back_with_every_field_and_the_store_time()
    {
        var saved = await Store.SaveWebhookAsync(Hook("lark-ops", WebhookFormat.Lark, secret: "s3cret-value"), replaceExisting: false, None);

        var read = Assert.Single(await Scope.Open().GetWebhooksAsync(None));
        Assert.Equal(saved, read);
        Assert.Equal(("lark-ops", "https://hooks.example.test/lark-ops/T0123/B0456/token-lark-ops", WebhookFormat.Lark, true, "s3cret-value"),
            (read.Name, read.Url, read.Format, read.Enabled, read.Secret));
        Assert.Equal(Scope.Clock.Now, read.CreatedAt);
        Assert.Equal(Scope.Clock.Now, read.UpdatedAt);
    }

    [SkippableFact]
    public async Task Webhooks_are_listed_by_name_whatever_their_format_or_state()
    {
        await Store.SaveWebhookAsync(Hook("teams", WebhookFormat.Teams, enabled: false), false, None);
        await Store.SaveWebhookAsync(Hook("audit"), false, None);
        await Store.SaveWebhookAsync(Hook("slack", WebhookFormat.Slack), false, None);

        var hooks = await Store.GetWebhooksAsync(None);

        Assert.Equal(new[] { "audit", "slack", "teams" }, hooks.Select(h => h.Name));
        Assert.Equal(new[] { true, true, false }, hooks.Select(h => h.Enabled));
        Assert.Null(hooks[0].Secret);
    }

    [SkippableFact]
    public async Task A_second_webhook_of_the_same_name_in_any_case_is_refused_unless_it_replaces_and_keeps_its_creation_time()
    {
        var first = await Store.SaveWebhookAsync(Hook("ops"), false, None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(5));

        var refused = await Assert.ThrowsAsync<StoreException>(() => Store.SaveWebhookAsync(Hook("OPS", WebhookFormat.Slack), false, None));
        Assert.Equal(StoreErrorIds.WebhookExists, refused.ErrorId);
        Assert.Equal(first, Assert.Single(await Store.GetWebhooksAsync(None)));

        var replaced = await Store.SaveWebhookAsync(Hook("OPS", WebhookFormat.Slack, url: "https://hooks.slack.test/services/T1/B2/new", enabled: false), true, None);

        var read = Assert.Single(await Store.GetWebhooksAsync(None));
        Assert.Equal(replaced, read);
        Assert.Equal(("OPS", WebhookFormat.Slack, "https://hooks.slack.test/services/T1/B2/new", false), (read.Name, read.Format, read.Url, read.Enabled));
        Assert.Equal(first.CreatedAt, read.CreatedAt);
        Assert.Equal(first.CreatedAt + TimeSpan.FromMinutes(5), read.UpdatedAt);
    }

    [SkippableFact]
    public async Task Concurrent_registrations_of_one_name_leave_one_webhook_and_refuse_the_others()
    {
        var other = Scope.Open();
        var attempts = Enumerable.Range(0, 6).Select(k => Task.Run(async () =>
        {
            try
            {
                await (k % 2 == 0 ? Store : other).SaveWebhookAsync(Hook("race", url: $"https://hooks.example.test/race/{k}"), false, None);
                return true;
            }
            catch (StoreException ex) when (ex.ErrorId == StoreErrorIds.WebhookExists)
            {
                return false;
            }
        })).ToArray();

        var results = await Task.WhenAll(attempts);

        Assert.Single(results, won => won);
        Assert.Single(await Store.GetWebhooksAsync(None));
    }

    [SkippableTheory]
    [InlineData("ftp://files.example.test/hook", WebhookFormat.Generic, null, WebhookRules.WebhookUrlInvalid)]
    [InlineData("hooks.example.test/no-scheme", WebhookFormat.Generic, null, WebhookRules.WebhookUrlInvalid)]
    [InlineData("https://user:password@hooks.example.test/x", WebhookFormat.Generic, null, WebhookRules.WebhookUrlInvalid)]
    [InlineData("https://hooks.example.test/x", WebhookFormat.Slack, "a-secret", WebhookRules.WebhookSecretInvalid)]
    [InlineData("https://hooks.example.test/x", WebhookFormat.Generic, " padded ", WebhookRules.WebhookSecretInvalid)]
    public async Task A_webhook_that_breaks_a_rule_is_refused_and_nothing_is_written(string url, WebhookFormat format, string? secret, string expectedId)
    {
        var webhook = Hook("bad", format, url, secret);
        Assert.Equal(expectedId, WebhookRules.Check(webhook)!.ErrorId);

        await Assert.ThrowsAsync<ArgumentException>(() => Store.SaveWebhookAsync(webhook, true, None));

        Assert.Empty(await Store.GetWebhooksAsync(None));
    }

    [SkippableFact]
    public async Task Removing_a_webhook_keeps_its_deliveries_and_says_whether_it_existed()
    {
        await Store.SaveWebhookAsync(Hook("ops"), false, None);
        await Store.RecordWebhookDeliveryAsync(Delivery("ops", "r-1", WebhookDeliveryStatus.Delivered), None);

        Assert.True(await Store.RemoveWebhookAsync("OPS", None));
        Assert.False(await Store.RemoveWebhookAsync("ops", None));

        Assert.Empty(await Store.GetWebhooksAsync(None));
        Assert.Single(await Store.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None));
    }

    [SkippableFact]
    public async Task A_webhook_is_switched_off_and_on_in_place_and_only_a_real_change_moves_its_update_time()
    {
        var saved = await Store.SaveWebhookAsync(Hook("ops", secret: "kept-secret"), false, None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(1));

        var off = await Store.SetWebhookEnabledAsync("OPS", false, None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(1));
        var offAgain = await Store.SetWebhookEnabledAsync("ops", false, None);

        Assert.Equal(saved with { Enabled = false, UpdatedAt = saved.CreatedAt + TimeSpan.FromMinutes(1) }, off);
        Assert.Equal(off, offAgain);
        var on = await Scope.Open().SetWebhookEnabledAsync("ops", true, None);
        Assert.Equal((true, "kept-secret", saved.Url, saved.CreatedAt + TimeSpan.FromMinutes(2)), (on!.Enabled, on.Secret, on.Url, on.UpdatedAt));
        Assert.Null(await Store.SetWebhookEnabledAsync("missing", true, None));
        Assert.Equal(on, Assert.Single(await Store.GetWebhooksAsync(None)));
    }

    [SkippableFact]
    public async Task A_recorded_delivery_reads_back_whole_with_its_sequence_and_the_store_time()
    {
        var recorded = await Store.RecordWebhookDeliveryAsync(Delivery("ops", "r-1", WebhookDeliveryStatus.Failed, "notice-9"), None);

        var read = Assert.Single(await Scope.Open().FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None));
        Assert.Equal(recorded, read);
        Assert.True(read.Sequence > 0);
        Assert.Equal(("ops", "notice-9", "r-1", "approve", WebhookDeliveryStatus.Failed, 3, (int?)500, "HTTP 500 Internal Server Error"),
            (read.Webhook, read.NoticeId, read.ReleaseId, read.Event, read.Status, read.Attempts, read.LastStatusCode, read.Error));
        Assert.Equal(TimeSpan.FromMilliseconds(1234), read.Elapsed);
        Assert.Equal(Scope.Clock.Now, read.RecordedAt);
    }

    [SkippableFact]
    public async Task A_delivery_with_no_answer_keeps_a_null_status_code_and_a_huge_error_is_cut()
    {
        await Store.RecordWebhookDeliveryAsync(Delivery("ops", "r-1", WebhookDeliveryStatus.Failed) with { LastStatusCode = null, Error = new string('x', 50_000) }, None);

        var read = Assert.Single(await Store.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None));

        Assert.Null(read.LastStatusCode);
        Assert.InRange(read.Error!.Length, 100, 2001);
    }

    [SkippableFact]
    public async Task The_delivery_log_is_newest_first_and_filters_by_webhook_release_and_status_with_a_limit()
    {
        await Store.RecordWebhookDeliveryAsync(Delivery("ops", "r-1", WebhookDeliveryStatus.Delivered, "n-1"), None);
        await Store.RecordWebhookDeliveryAsync(Delivery("chat", "r-1", WebhookDeliveryStatus.Failed, "n-1"), None);
        await Store.RecordWebhookDeliveryAsync(Delivery("ops", "r-2", WebhookDeliveryStatus.Failed, "n-2"), None);
        await Store.RecordWebhookDeliveryAsync(Delivery("ops", "R-2", WebhookDeliveryStatus.Delivered, "n-3"), None);

        async Task<string[]> Find(WebhookDeliveryQuery query) =>
            (await Store.FindWebhookDeliveriesAsync(query, None)).Select(d => $"{d.Webhook}/{d.NoticeId}").ToArray();

        Assert.Equal(new[] { "ops/n-3", "ops/n-2", "chat/n-1", "ops/n-1" }, await Find(new WebhookDeliveryQuery()));
        Assert.Equal(new[] { "ops/n-3", "ops/n-2", "ops/n-1" }, await Find(new WebhookDeliveryQuery { Webhook = "OPS" }));
        Assert.Equal(new[] { "ops/n-3", "ops/n-2" }, await Find(new WebhookDeliveryQuery { ReleaseId = "r-2" }));
        Assert.Equal(new[] { "ops/n-2", "chat/n-1" }, await Find(new WebhookDeliveryQuery { Status = WebhookDeliveryStatus.Failed }));
        Assert.Equal(new[] { "ops/n-2" }, await Find(new WebhookDeliveryQuery { Webhook = "ops", ReleaseId = "r-2", Status = WebhookDeliveryStatus.Failed }));
        Assert.Equal(new[] { "ops/n-3", "ops/n-2" }, await Find(new WebhookDeliveryQuery { Limit = 2 }));
    }
}

public sealed class SqliteWebhookStoreTests : WebhookStoreContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresWebhookStoreTests : WebhookStoreContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}
