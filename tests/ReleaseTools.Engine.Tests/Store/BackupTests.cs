using System.IO.Compression;
using System.Text;
using System.Text.Json;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Portable;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>Backup and restore as part of the store contract: the same file format and the same guarantees for every store.</summary>
public abstract class BackupContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _files = new("rt-backup");
    private readonly List<IStoreScope> _scopes = new();

    protected abstract IStoreScope CreateScope();

    private IStoreScope NewScope()
    {
        var scope = CreateScope();
        _scopes.Add(scope);
        return scope;
    }

    public void Dispose()
    {
        foreach (var scope in _scopes)
        {
            scope.Dispose();
        }

        _files.Dispose();
    }

    [SkippableFact]
    public async Task A_backup_restores_into_an_empty_store_with_every_record_and_equal_counts_and_digests()
    {
        var source = NewScope().Store;
        var deploymentId = await BackupSamples.PopulateAsync(source);
        var path = _files.Combine("store.rtbackup");

        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;
        var restored = await StoreBackup.RestoreAsync(target, path, replace: false, None);

        Assert.Equal(written.ContentDigest, restored.ContentDigest);
        Assert.True(written.SameRecordsAs(restored));
        Assert.Equal(3, written.Counts["Instances"]);
        Assert.Equal(4, written.Counts["HistoryRows"]);
        Assert.True(written.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)));
        await BackupSamples.AssertSameRecordsAsync(source, target, deploymentId);
        Assert.Empty(await target.GetLeasesAsync(null, None));
    }

    [SkippableFact]
    public async Task A_backup_taken_while_a_run_writes_is_one_consistent_snapshot()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        // Bounded by time, not by a count of runs: on a quiet machine a fixed count was written before the backup ended.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var runsWritten = 0;
        var writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var run = await source.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2") }, None);
                await source.AppendAuditAsync(run.DeploymentId, "note", $"write {runsWritten}", None);
                Interlocked.Increment(ref runsWritten);
            }
        });
        var path = _files.Combine("busy.rtbackup");
        while (Volatile.Read(ref runsWritten) < 5 && !writer.IsCompleted)
        {
            await Task.Delay(5);
        }

        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var writtenMeanwhile = !writer.IsCompleted;
        stop.Cancel();
        await writer;
        var target = NewScope().Store;
        await StoreBackup.RestoreAsync(target, path, replace: false, None);

        // The run kept writing from before the backup began until after it ended.
        Assert.True(writtenMeanwhile, "the writer stopped before the backup ended");
        Assert.InRange(written.Counts["Deployments"], 2 + 5, (await source.FindDeploymentsAsync(new DeploymentQuery { Limit = 0 }, None)).Count);

        // A run and its targets are written in one transaction: a torn copy would show a run without them.
        var runs = await target.FindDeploymentsAsync(new DeploymentQuery { Limit = 0 }, None);
        Assert.Equal(written.Counts["Deployments"], runs.Count);
        foreach (var run in runs)
        {
            Assert.Equal(run.TotalTargets, (await target.GetTargetsAsync(run.DeploymentId, None)).Count);
        }
    }

    [SkippableFact]
    public async Task A_backup_of_format_1_without_history_outcomes_restores_with_every_row_a_release()
    {
        var source = NewScope().Store;
        await source.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var run = await source.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await source.RecordReleaseAsync(StoreSamples.Release(run.DeploymentId, "orders-1", "2.0.0"), None);
        var path = _files.Combine("format-2.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var older = _files.Combine("format-1.rtbackup");
        BackupSamples.WriteLines(older, BackupSamples.AsFormat1(BackupSamples.ReadLines(path)));

        var target = NewScope().Store;
        var restored = await StoreBackup.RestoreAsync(target, older, replace: false, None);

        Assert.Equal(1, restored.FormatVersion);
        var history = Assert.Single(await target.GetHistoryIncludingRevertedAsync("orders-1", 0, None));
        Assert.Equal(("2.0.0", HistoryOutcome.Released, (string?)null), (history.Version, history.Outcome, history.FailedCheck));
        Assert.Equal(await source.GetHistoryAsync("orders-1", 0, None), await target.GetHistoryAsync("orders-1", 0, None));
    }

    [SkippableFact]
    public async Task A_store_that_holds_records_is_refused_unless_replace_is_asked_for()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        var path = _files.Combine("store.rtbackup");
        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;
        await target.RegisterInstanceAsync(StoreSamples.Instance("billing-9", service: "billing"), None);

        var refused = await Assert.ThrowsAsync<StoreException>(() => StoreBackup.RestoreAsync(target, path, replace: false, None));
        Assert.Equal(StoreErrorIds.StoreNotEmpty, refused.ErrorId);
        Assert.Equal(new[] { "billing-9" }, (await target.FindInstancesAsync(new InstanceQuery(), None)).Select(i => i.InstanceId));

        await StoreBackup.RestoreAsync(target, path, replace: true, None);
        Assert.Null(await target.GetInstanceAsync("billing-9", None));
        Assert.True(written.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)));
    }

    [SkippableFact]
    public async Task A_backup_carries_the_releases_their_policy_and_the_webhooks_but_no_lifecycle_lease()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        var releases = await BackupSamples.PopulateLifecycleAsync(source);
        var path = _files.Combine("lifecycle.rtbackup");

        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;
        var restored = await StoreBackup.RestoreAsync(target, path, replace: false, None);

        Assert.Equal(4, restored.FormatVersion);
        Assert.Equal((4L, 4L, 4L, 3L, 2L, 3L, 2L, 3L), (written.Counts["Releases"], written.Counts["ReleaseEntries"], written.Counts["ReleaseConfigs"],
            written.Counts["ReleaseApprovals"], written.Counts["ReleaseRuns"], written.Counts["ReleasePolicy"], written.Counts["Webhooks"], written.Counts["WebhookDeliveries"]));
        Assert.Equal(1L + 7 + 2 + 8, written.Counts["ReleaseTransitions"]);
        Assert.True(written.SameRecordsAs(restored));
        Assert.True(written.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)));
        await BackupSamples.AssertSameLifecycleAsync(source, target, releases);
        Assert.Null(await target.Lifecycle.GetLifecycleLeaseAsync("release-scanner", None));
        await BackupSamples.AssertLifecycleContinuesAsync(target, releases);
    }

    [SkippableFact]
    public async Task A_backup_carries_each_instance_s_agent_instance_https_and_pinned_certificate_and_one_of_format_3_restores_them_as_default_instances_over_http()
    {
        var source = NewScope().Store;
        var deploymentId = await BackupSamples.PopulateAsync(source);
        var path = _files.Combine("format-4.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);

        var target = NewScope().Store;
        await StoreBackup.RestoreAsync(target, path, replace: false, None);
        var carried = (await target.GetInstanceAsync("orders-2", None))!;
        Assert.Equal(("b", true, BackupSamples.PinnedCertificate), (carried.AgentInstance, carried.UseHttps, carried.AgentCertificate));

        var older = _files.Combine("format-3.rtbackup");
        BackupSamples.WriteLines(older, BackupSamples.AsFormat3(BackupSamples.ReadLines(path)));
        var fromOlder = NewScope().Store;
        var restored = await StoreBackup.RestoreAsync(fromOlder, older, replace: false, None);

        Assert.Equal(3, restored.FormatVersion);
        var instances = await fromOlder.FindInstancesAsync(new InstanceQuery(), None);
        Assert.Equal(3, instances.Count);
        Assert.All(instances, i => Assert.Equal(((string?)null, false, (string?)null), (i.AgentInstance, i.UseHttps, i.AgentCertificate)));
        Assert.Equal((await source.GetHistoryAsync("orders-2", 0, None)).Count, (await fromOlder.GetHistoryAsync("orders-2", 0, None)).Count);
        Assert.NotNull(await fromOlder.GetDeploymentAsync(deploymentId, None));
    }

    [SkippableFact]
    public async Task A_backup_of_format_2_restores_with_no_releases_policy_or_webhooks()
    {
        var source = NewScope().Store;
        var deploymentId = await BackupSamples.PopulateAsync(source);
        await BackupSamples.PopulateLifecycleAsync(source);
        var path = _files.Combine("format-3.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var older = _files.Combine("format-2.rtbackup");
        BackupSamples.WriteLines(older, BackupSamples.AsFormat2(BackupSamples.ReadLines(path)));

        var target = NewScope().Store;
        var restored = await StoreBackup.RestoreAsync(target, older, replace: false, None);

        Assert.Equal(2, restored.FormatVersion);
        Assert.False(restored.Counts.ContainsKey("Releases"));
        await BackupSamples.AssertSameRecordsAsync(source, target, deploymentId, beforeFormat4: true);
        Assert.Empty(await target.Lifecycle.FindReleasesAsync(new ReleaseQuery(), None));
        Assert.Empty(await target.GetWebhooksAsync(None));
        Assert.Empty(await target.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None));
        Assert.Equal((1, true, 0), ((await target.Lifecycle.GetReleasePolicyAsync(None)).RequiredApprovals, (await target.Lifecycle.GetReleasePolicyAsync(None)).AllowSelfApproval,
            (await target.Lifecycle.GetReleasePolicyAsync(None)).Approvers.Count));
        var summary = await StoreBackup.SummarizeAsync(target, None);
        Assert.All(new[] { "Releases", "ReleaseEntries", "ReleaseConfigs", "ReleaseTransitions", "ReleaseApprovals", "ReleaseRuns", "ReleasePolicy", "Webhooks", "WebhookDeliveries" },
            label => Assert.Equal(0, summary.Counts[label]));
        Assert.All(restored.Counts, c => Assert.Equal(c.Value, summary.Counts[c.Key]));
        // Instances read back with the columns format 4 added (null, false, null), so their digest is of other rows than the format-2 backup's.
        Assert.All(restored.Digests.Where(d => d.Key != "Instances"), d => Assert.Equal(d.Value, summary.Digests[d.Key]));

        // The restored store takes new releases from there.
        var created = await target.Lifecycle.CreateReleaseAsync(BackupSamples.NewRelease("after the move"), new[] { BackupSamples.Entry("payments") }, None);
        Assert.Equal(ReleaseState.PendingReview, created.State);
    }

    [SkippableFact]
    public async Task A_store_that_holds_only_a_webhook_or_a_policy_is_not_empty()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        var path = _files.Combine("store.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var withWebhook = NewScope().Store;
        await withWebhook.SaveWebhookAsync(new WebhookRegistration { Name = "ops", Url = "https://hooks.example.test/ops/T1/B2/token-ops", Format = WebhookFormat.Generic, Enabled = true }, false, None);
        var withPolicy = NewScope().Store;
        await withPolicy.Lifecycle.SetReleasePolicyAsync(new ReleasePolicy { RequiredApprovals = 3 }, None);

        foreach (var target in new[] { withWebhook, withPolicy })
        {
            var refused = await Assert.ThrowsAsync<StoreException>(() => StoreBackup.RestoreAsync(target, path, replace: false, None));
            Assert.Equal(StoreErrorIds.StoreNotEmpty, refused.ErrorId);
        }

        Assert.Single(await withWebhook.GetWebhooksAsync(None));
        Assert.Equal(3, (await withPolicy.Lifecycle.GetReleasePolicyAsync(None)).RequiredApprovals);

        // Replacing takes the backup's (empty) webhooks and policy, and lifecycle leases go with the records.
        await withPolicy.Lifecycle.TryClaimLifecycleLeaseAsync("release-scanner", "scanner-1", TimeSpan.FromMinutes(5), None);
        await StoreBackup.RestoreAsync(withWebhook, path, replace: true, None);
        await StoreBackup.RestoreAsync(withPolicy, path, replace: true, None);
        Assert.Empty(await withWebhook.GetWebhooksAsync(None));
        Assert.Equal(1, (await withPolicy.Lifecycle.GetReleasePolicyAsync(None)).RequiredApprovals);
        Assert.Null(await withPolicy.Lifecycle.GetLifecycleLeaseAsync("release-scanner", None));
    }

    [SkippableFact]
    public async Task A_truncated_or_altered_backup_is_refused_and_nothing_is_written()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        await BackupSamples.PopulateLifecycleAsync(source);
        var path = _files.Combine("store.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var lines = BackupSamples.ReadLines(path);

        var truncated = _files.Combine("truncated.rtbackup");
        BackupSamples.WriteLines(truncated, lines.Take(lines.Count - 3));
        var altered = _files.Combine("altered.rtbackup");
        BackupSamples.WriteLines(altered, lines.Select(l => l.Replace("orders-2", "orders-X")));
        var cut = _files.Combine("cut.rtbackup");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(cut, bytes.Take(bytes.Length / 2).ToArray());
        var target = NewScope().Store;

        foreach (var bad in new[] { truncated, altered, cut })
        {
            var refused = await Assert.ThrowsAsync<StoreException>(() => StoreBackup.RestoreAsync(target, bad, replace: true, None));
            Assert.Equal(StoreErrorIds.BackupCorrupt, refused.ErrorId);
            Assert.Contains("Nothing was changed", refused.Message);
        }

        var untouched = await StoreBackup.SummarizeAsync(target, None);
        Assert.Contains("WebhookDeliveries", untouched.Counts.Keys);
        Assert.All(untouched.Counts, c => Assert.Equal(0, c.Value));
    }

    [SkippableFact]
    public async Task A_large_backup_restores_every_row_through_the_batched_path()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        var populated = await StoreBackup.SummarizeAsync(source, None);
        await BackupSamples.AddFleetAsync(source, instances: 300, releasesEach: 4);
        var path = _files.Combine("large.rtbackup");
        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;

        await StoreBackup.RestoreAsync(target, path, replace: false, None);

        Assert.Equal(populated.Counts["Instances"] + 300, written.Counts["Instances"]);
        Assert.Equal(populated.Counts["HistoryRows"] + 1_200, written.Counts["HistoryRows"]);
        Assert.True(written.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)));
        Assert.Equal(new[] { "1.3.0", "1.2.0", "1.1.0", "1.0.0" }, (await target.GetHistoryAsync("fleet-0123", 10, None)).Select(h => h.Version));
    }

    [SkippableFact]
    public async Task A_restore_whose_backup_proves_corrupt_at_its_end_leaves_the_store_as_it_was()
    {
        var source = NewScope().Store;
        await BackupSamples.AddFleetAsync(source, instances: 300, releasesEach: 4);
        var path = _files.Combine("large.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;
        await BackupSamples.PopulateAsync(target);
        var before = await StoreBackup.SummarizeAsync(target, None);

        // Every row of every table has been handed to the store (whole batches, a partial last batch, an open COPY)
        // when the stream fails, as it does when the manifest at the end does not match.
        static IEnumerable<KeyValuePair<PortableTable, object?[]>> FailingAtTheEnd(string file)
        {
            foreach (var row in StoreBackupFile.Rows(file, _ => { }))
            {
                yield return row;
            }

            throw new StoreException(StoreErrorIds.BackupCorrupt, "The backup's manifest does not match its rows.");
        }

        var refused = await Assert.ThrowsAsync<StoreException>(() => ((IPortableStore)target).ImportAsync(FailingAtTheEnd(path), replace: true, None));

        Assert.Equal(StoreErrorIds.BackupCorrupt, refused.ErrorId);
        Assert.True(before.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)), "the store changed");
        Assert.Null(await target.GetInstanceAsync("fleet-0001", None));
        Assert.NotNull(await target.GetInstanceAsync("orders-1", None));
    }

    [SkippableFact]
    public async Task An_existing_backup_file_is_not_overwritten_unless_asked()
    {
        var source = NewScope().Store;
        var path = _files.WriteFile("taken.rtbackup", "keep me");

        var refused = await Assert.ThrowsAsync<StoreException>(() => StoreBackup.BackupAsync(source, path, overwrite: false, None));

        Assert.Equal(StoreErrorIds.BackupFileUnavailable, refused.ErrorId);
        Assert.Equal("keep me", File.ReadAllText(path));
        await StoreBackup.BackupAsync(source, path, overwrite: true, None);
        await StoreBackup.VerifyAsync(path, None);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.partial-*"));
    }
}

public sealed class SqliteBackupTests : BackupContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresBackupTests : BackupContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}

/// <summary>Moving a team's store: a SQLite backup restored into PostgreSQL, and back.</summary>
public sealed class StoreMoveTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _files = new("rt-move");
    private readonly List<IStoreScope> _scopes = new();

    public void Dispose()
    {
        foreach (var scope in _scopes)
        {
            scope.Dispose();
        }

        _files.Dispose();
    }

    [SkippableFact]
    public async Task A_SQLite_store_moves_to_PostgreSQL_and_back_with_every_record()
    {
        var sqlite = Add(new StoreScope()).Store;
        var deploymentId = await BackupSamples.PopulateAsync(sqlite);
        var postgres = Add(new PostgresStoreScope()).Store;
        var sqliteAgain = Add(new StoreScope()).Store;

        var fromSqlite = await StoreBackup.BackupAsync(sqlite, _files.Combine("from-sqlite.rtbackup"), false, None);
        await StoreBackup.RestoreAsync(postgres, _files.Combine("from-sqlite.rtbackup"), false, None);
        var fromPostgres = await StoreBackup.BackupAsync(postgres, _files.Combine("from-postgres.rtbackup"), false, None);
        await StoreBackup.RestoreAsync(sqliteAgain, _files.Combine("from-postgres.rtbackup"), false, None);

        Assert.Equal("sqlite", fromSqlite.SourceKind);
        Assert.Equal("postgresql", fromPostgres.SourceKind);
        Assert.True(fromSqlite.SameRecordsAs(fromPostgres), "the PostgreSQL store holds exactly what the SQLite store held");
        Assert.True(fromSqlite.SameRecordsAs(await StoreBackup.SummarizeAsync(sqliteAgain, None)));
        await BackupSamples.AssertSameRecordsAsync(sqlite, postgres, deploymentId);
        await BackupSamples.AssertSameRecordsAsync(sqlite, sqliteAgain, deploymentId);

        // The moved store keeps working: new history continues after the restored rows.
        var next = await postgres.CreateDeploymentAsync(StoreSamples.Deployment(version: "3.0.0"), new[] { StoreSamples.Target("orders-1", version: "3.0.0") }, None);
        await postgres.RecordReleaseAsync(StoreSamples.Release(next.DeploymentId, "orders-1", "3.0.0"), None);
        var history = await postgres.GetHistoryAsync("orders-1", 10, None);
        Assert.Equal("3.0.0", history[0].Version);
        Assert.True(history[0].Sequence > history[1].Sequence);
    }

    [SkippableFact]
    public async Task Releases_and_webhooks_move_from_SQLite_to_PostgreSQL_and_back_and_the_releases_carry_on()
    {
        var sqlite = Add(new StoreScope()).Store;
        await BackupSamples.PopulateAsync(sqlite);
        var releases = await BackupSamples.PopulateLifecycleAsync(sqlite);
        var postgres = Add(new PostgresStoreScope()).Store;
        var sqliteAgain = Add(new StoreScope()).Store;

        var fromSqlite = await StoreBackup.BackupAsync(sqlite, _files.Combine("from-sqlite.rtbackup"), false, None);
        var intoPostgres = await StoreBackup.RestoreAsync(postgres, _files.Combine("from-sqlite.rtbackup"), false, None);
        var fromPostgres = await StoreBackup.BackupAsync(postgres, _files.Combine("from-postgres.rtbackup"), false, None);
        await StoreBackup.RestoreAsync(sqliteAgain, _files.Combine("from-postgres.rtbackup"), false, None);

        Assert.Equal(4, fromSqlite.Counts["Releases"]);
        Assert.Equal(3, fromSqlite.Counts["WebhookDeliveries"]);
        Assert.True(fromSqlite.SameRecordsAs(intoPostgres));
        Assert.True(fromSqlite.SameRecordsAs(fromPostgres), "the PostgreSQL store holds exactly what the SQLite store held");
        Assert.True(fromSqlite.SameRecordsAs(await StoreBackup.SummarizeAsync(sqliteAgain, None)));
        await BackupSamples.AssertSameLifecycleAsync(sqlite, postgres, releases);
        await BackupSamples.AssertSameLifecycleAsync(sqlite, sqliteAgain, releases);
        Assert.Null(await postgres.Lifecycle.GetLifecycleLeaseAsync("release-scanner", None));
        Assert.Null(await sqliteAgain.Lifecycle.GetLifecycleLeaseAsync("release-scanner", None));

        await BackupSamples.AssertLifecycleContinuesAsync(postgres, releases);
        await BackupSamples.AssertLifecycleContinuesAsync(sqliteAgain, releases);
    }

    private IStoreScope Add(IStoreScope scope)
    {
        _scopes.Add(scope);
        return scope;
    }
}

internal static class BackupSamples
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A fleet of fleet-NNNN instances with imported history, more rows than one batch of a restore holds.</summary>
    public static async Task AddFleetAsync(IReleaseStore store, int instances, int releasesEach)
    {
        await store.RegisterInstancesAsync(Enumerable.Range(0, instances).Select(i => StoreSamples.Instance($"fleet-{i:D4}", service: "fleet")).ToList(), None);
        var at = DateTimeOffset.UtcNow.AddDays(-releasesEach);
        await store.ImportHistoryAsync(Enumerable.Range(0, releasesEach).SelectMany(release => Enumerable.Range(0, instances).Select(i => new VersionHistoryRecord
        {
            InstanceId = $"fleet-{i:D4}", Service = "fleet", Environment = "prod", Version = $"1.{release}.0", FVersion = $"1.{release}.0+f",
            PreviousVersion = release == 0 ? null : $"1.{release - 1}.0", DeploymentId = $"d-fleet-{release}", RecordedAt = at.AddHours(release).AddSeconds(i),
        })).ToList(), None);
    }

    /// <summary>The SHA-256 fingerprint orders-2 pins for its agent's TLS certificate.</summary>
    public const string PinnedCertificate = "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592";

    /// <summary>Instances, a finished run with history and config, a run still in progress holding leases, audit entries. Returns the finished run.</summary>
    public static async Task<string> PopulateAsync(IReleaseStore store)
    {
        await store.RegisterInstancesAsync(new[]
        {
            StoreSamples.Instance("orders-1", tags: new[] { "blue" }),
            StoreSamples.Instance("orders-2") with { AgentInstance = "b", UseHttps = true, AgentCertificate = PinnedCertificate },
            StoreSamples.Instance("Orders-3", environment: "staging"),
        }, None);
        var finished = await store.CreateDeploymentAsync(StoreSamples.Deployment(), new[]
        {
            StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2"), StoreSamples.Target("Orders-3"),
        }, None);
        await store.SetDeploymentStatusAsync(finished.DeploymentId, DeploymentStatus.Running, None);
        await store.SaveConfigSnapshotAsync("digest-2.0.0", "appsettings.json", Encoding.UTF8.GetBytes("{\"level\":\"info\"}\n\u00e9"), None);
        foreach (var id in new[] { "orders-1", "orders-2", "Orders-3" })
        {
            await store.RecordReleaseAsync(StoreSamples.Release(finished.DeploymentId, id, "2.0.0"), None);
        }

        await store.AppendAuditAsync(finished.DeploymentId, "note", "Rolled out after the change freeze.", None);
        await store.SetDeploymentStatusAsync(finished.DeploymentId, DeploymentStatus.Succeeded, None);
        var reverted = await store.CreateDeploymentAsync(StoreSamples.Deployment(version: "2.0.1"), new[] { StoreSamples.Target("orders-2", version: "2.0.1") }, None);
        await store.RecordRevertedAsync(StoreSamples.Target("orders-2", TargetStatus.Failed, version: "2.0.1") with { DeploymentId = reverted.DeploymentId, FailedStep = "activate" },
            new RevertedAttempt { Operation = DeploymentOperation.Deploy, Version = "2.0.1", FVersion = "2.0.1+f1", FailedCheck = "healthCheck" }, None);
        await store.SetDeploymentStatusAsync(reverted.DeploymentId, DeploymentStatus.Failed, None);
        var active = await store.CreateDeploymentAsync(StoreSamples.Deployment(version: "2.1.0"), new[] { StoreSamples.Target("orders-1", version: "2.1.0") }, None);
        await store.SetDeploymentStatusAsync(active.DeploymentId, DeploymentStatus.Running, None);
        await store.TryClaimInstancesAsync(ProcessIdentity.Current(active.DeploymentId), new[] { "orders-1" }, TimeSpan.FromMinutes(5), None);
        return finished.DeploymentId;
    }

    public static NewRelease NewRelease(string name) => new()
    {
        Name = name, Description = "card payments and the ledger", PreEnvironment = "staging", ProdEnvironment = "prod", CreatedBy = "alice", Comment = "first cut",
    };

    public static ReleaseEntry Entry(string service, string version = "2.0.0") => new()
    {
        Service = service,
        Version = version,
        PackageUrl = $"https://packages.example.test/{service}/{version}.zip",
        ConfigKind = ReleaseConfigKind.Template,
        ConfigContent = Encoding.UTF8.GetBytes("{ \"env\": \"{{Environment}}\", \"colour\": \"{{Colour}}\" }\n\u00e9"),
        ConfigFileName = "appsettings.json",
        ConfigValues = new Dictionary<string, string> { ["Colour"] = "blue" },
    };

    /// <summary>The releases <see cref="PopulateLifecycleAsync"/> leaves, by the state each is in.</summary>
    public sealed record LifecycleSample(string PendingReview, string PreDeployed, string Rejected, string Accepted)
    {
        public IEnumerable<string> All => new[] { PendingReview, PreDeployed, Rejected, Accepted };
    }

    /// <summary>
    /// Releases in four states (awaiting a second approval; tagged with frozen configs and pre-deployed after a failed
    /// first attempt; rejected; accepted), the approval policy, a signed and an unsigned webhook with deliveries, and the
    /// scanner's lifecycle lease, which a backup must not carry.
    /// </summary>
    public static async Task<LifecycleSample> PopulateLifecycleAsync(IReleaseStore store)
    {
        var lifecycle = store.Lifecycle;
        await lifecycle.SetReleasePolicyAsync(new ReleasePolicy { RequiredApprovals = 2, AllowSelfApproval = false, Approvers = new[] { "bob", "carol", "dave" } }, None);

        var pending = await lifecycle.CreateReleaseAsync(NewRelease("2026.12 payments"), new[] { Entry("payments"), Entry("ledger", "1.4.0") }, None);
        await lifecycle.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = pending.ReleaseId, Approver = "bob", Revision = 1, RequiredApprovals = 2, Comment = "ok" }, None);

        var deployed = await lifecycle.CreateReleaseAsync(NewRelease("2026.12 ledger"), new[] { Entry("ledger", "1.5.0") }, None);
        await lifecycle.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = deployed.ReleaseId, Approver = "carol", Revision = 1, RequiredApprovals = 1 }, None);
        await TagAsync(store, deployed.ReleaseId, "ledger", "0123456789abcdef0123456789abcdef");
        var firstTry = await Move(lifecycle, deployed.ReleaseId, ReleaseEvent.StartPreDeploy);
        var started = DateTimeOffset.UtcNow.AddMinutes(-30);
        var failedRun = await lifecycle.AddReleaseRunAsync(new ReleaseRunRecord
        {
            ReleaseId = deployed.ReleaseId, TransitionSequence = firstTry.Sequence, Stage = ReleaseStage.PreRelease, Service = "ledger", Environment = "staging",
            Status = ReleaseRunStatus.Running, StartedAt = started,
        }, None);
        await lifecycle.UpdateReleaseRunAsync(failedRun with { DeploymentId = "d-stage-1", Status = ReleaseRunStatus.Failed, Error = "web-01 failed at activate", EndedAt = started.AddSeconds(9) }, None);
        await Move(lifecycle, deployed.ReleaseId, ReleaseEvent.PreDeployFailed);
        var secondTry = await Move(lifecycle, deployed.ReleaseId, ReleaseEvent.StartPreDeploy);
        var run = await lifecycle.AddReleaseRunAsync(new ReleaseRunRecord
        {
            ReleaseId = deployed.ReleaseId, TransitionSequence = secondTry.Sequence, Stage = ReleaseStage.PreRelease, Service = "ledger", Environment = "staging",
            Status = ReleaseRunStatus.Running, StartedAt = started.AddMinutes(5),
        }, None);
        await lifecycle.UpdateReleaseRunAsync(run with { DeploymentId = "d-stage-2", Status = ReleaseRunStatus.Succeeded, EndedAt = started.AddMinutes(6) }, None);
        await Move(lifecycle, deployed.ReleaseId, ReleaseEvent.PreDeployCompleted);

        var rejected = await lifecycle.CreateReleaseAsync(NewRelease("2026.11 hotfix"), Array.Empty<ReleaseEntry>(), None);
        await Move(lifecycle, rejected.ReleaseId, ReleaseEvent.Reject, comment: "wrong ledger version");

        var accepted = await lifecycle.CreateReleaseAsync(NewRelease("2026.10 orders"), new[] { Entry("orders", "1.9.0") }, None);
        await lifecycle.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = accepted.ReleaseId, Approver = "dave", Revision = 1, RequiredApprovals = 1 }, None);
        await TagAsync(store, accepted.ReleaseId, "orders", "fedcba9876543210fedcba9876543210");
        foreach (var step in new[] { ReleaseEvent.StartPreDeploy, ReleaseEvent.PreDeployCompleted, ReleaseEvent.StartProdDeploy, ReleaseEvent.ProdDeployCompleted, ReleaseEvent.FinalAccept })
        {
            await Move(lifecycle, accepted.ReleaseId, step);
        }

        await store.SaveWebhookAsync(new WebhookRegistration
        {
            Name = "audit", Url = "https://audit.example.test/releasetools/T0123/B0456/token-audit", Format = WebhookFormat.Generic, Enabled = true, Secret = "s3cret-signing-key",
        }, false, None);
        await store.SaveWebhookAsync(new WebhookRegistration
        {
            Name = "releases-slack", Url = "https://hooks.example.test/services/T0123/B0456/token-slack", Format = WebhookFormat.Slack, Enabled = false,
        }, false, None);
        foreach (var (webhook, status) in new[] { ("audit", WebhookDeliveryStatus.Delivered), ("releases-slack", WebhookDeliveryStatus.Failed), ("audit", WebhookDeliveryStatus.Delivered) })
        {
            await store.RecordWebhookDeliveryAsync(new NewWebhookDelivery
            {
                Webhook = webhook, NoticeId = "n-" + Guid.NewGuid().ToString("N"), ReleaseId = deployed.ReleaseId, Event = "pre_deploy_completed", Status = status,
                Attempts = status == WebhookDeliveryStatus.Delivered ? 1 : 4, LastStatusCode = status == WebhookDeliveryStatus.Delivered ? 200 : 500,
                Error = status == WebhookDeliveryStatus.Delivered ? null : "HTTP 500 Internal Server Error", Elapsed = TimeSpan.FromMilliseconds(1234),
            }, None);
        }

        Assert.True((await lifecycle.TryClaimLifecycleLeaseAsync("release-scanner", "scanner-1", TimeSpan.FromMinutes(5), None)).Acquired);
        return new LifecycleSample(pending.ReleaseId, deployed.ReleaseId, rejected.ReleaseId, accepted.ReleaseId);
    }

    /// <summary>Tags the release: its one entry's checksum and the config of each environment frozen (the config bytes saved first).</summary>
    private static async Task TagAsync(IReleaseStore store, string releaseId, string service, string checksum)
    {
        var snapshots = new List<ReleaseConfigSnapshot>();
        foreach (var environment in new[] { "staging", "prod" })
        {
            var digest = $"d-{service}-{environment}";
            await store.SaveConfigSnapshotAsync(digest, "appsettings.json", Encoding.UTF8.GetBytes($"{{ \"env\": \"{environment}\" }}"), None);
            snapshots.Add(new ReleaseConfigSnapshot { Environment = environment, Digest = digest, FileName = "appsettings.json" });
        }

        await Move(store.Lifecycle, releaseId, ReleaseEvent.ConfirmTag, freeze: new[] { new FrozenEntry { Service = service, Checksum = checksum, Snapshots = snapshots } });
    }

    private static async Task<ReleaseTransitionRecord> Move(ILifecycleStore lifecycle, string releaseId, ReleaseEvent step, IReadOnlyList<FrozenEntry>? freeze = null,
        string? comment = null)
    {
        var release = (await lifecycle.GetReleaseAsync(releaseId, None))!;
        var change = await lifecycle.TransitionReleaseAsync(new ReleaseTransition
        {
            ReleaseId = releaseId, Event = ReleaseStateMachine.NameOf(step), From = release.State, To = ReleaseStateMachine.Next(release.State, step)!.Value,
            Actor = "alice", Comment = comment, Revision = release.Revision, Freeze = freeze,
        }, None);
        Assert.True(change.Applied, $"{step} from {release.State} was refused: {change.Refusal}");
        return change.Transition!;
    }

    /// <summary>Records are compared as JSON: entries hold bytes and dictionaries, which records compare by reference.</summary>
    private static void AssertSameJson<T>(T expected, T actual) => Assert.Equal(JsonSerializer.Serialize(expected), JsonSerializer.Serialize(actual));

    public static async Task AssertSameLifecycleAsync(IReleaseStore expected, IReleaseStore actual, LifecycleSample releases)
    {
        AssertSameJson(await expected.Lifecycle.FindReleasesAsync(new ReleaseQuery(), None), await actual.Lifecycle.FindReleasesAsync(new ReleaseQuery(), None));
        foreach (var id in releases.All)
        {
            AssertSameJson(await expected.Lifecycle.GetReleaseAsync(id, None), await actual.Lifecycle.GetReleaseAsync(id, None));
            AssertSameJson(await expected.Lifecycle.GetReleaseEntriesAsync(id, None), await actual.Lifecycle.GetReleaseEntriesAsync(id, None));
            AssertSameJson(await expected.Lifecycle.GetReleaseTransitionsAsync(id, None), await actual.Lifecycle.GetReleaseTransitionsAsync(id, None));
            AssertSameJson(await expected.Lifecycle.GetReleaseApprovalsAsync(id, None), await actual.Lifecycle.GetReleaseApprovalsAsync(id, None));
            AssertSameJson(await expected.Lifecycle.GetReleaseRunsAsync(id, None), await actual.Lifecycle.GetReleaseRunsAsync(id, None));
        }

        Assert.Equal(new[] { ReleaseState.PendingReview, ReleaseState.PreDeployed, ReleaseState.Rejected, ReleaseState.Accepted },
            await Task.WhenAll(releases.All.Select(async id => (await actual.Lifecycle.GetReleaseAsync(id, None))!.State)));
        var frozen = Assert.Single(await actual.Lifecycle.GetReleaseEntriesAsync(releases.PreDeployed, None));
        Assert.Equal(new[] { ("prod", "d-ledger-prod"), ("staging", "d-ledger-staging") }, frozen.Snapshots.Select(s => (s.Environment, s.Digest)));
        Assert.Equal(await expected.GetConfigSnapshotAsync("d-ledger-prod", None), await actual.GetConfigSnapshotAsync("d-ledger-prod", None));
        Assert.Equal(2, (await actual.Lifecycle.GetReleaseRunsAsync(releases.PreDeployed, None)).Count);
        AssertSameJson(await expected.Lifecycle.GetReleasePolicyAsync(None), await actual.Lifecycle.GetReleasePolicyAsync(None));
        Assert.Equal(new[] { "bob", "carol", "dave" }, (await actual.Lifecycle.GetReleasePolicyAsync(None)).Approvers);

        var webhooks = await actual.GetWebhooksAsync(None);
        AssertSameJson(await expected.GetWebhooksAsync(None), webhooks);
        Assert.Equal(("s3cret-signing-key", false), (webhooks.Single(w => w.Name == "audit").Secret, webhooks.Single(w => w.Name == "releases-slack").Enabled));
        var deliveries = await actual.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None);
        Assert.Equal(3, deliveries.Count);
        AssertSameJson(await expected.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None), deliveries);
    }

    /// <summary>A restored store goes on with its releases: allowed events apply, and new rows are numbered after the restored ones.</summary>
    public static async Task AssertLifecycleContinuesAsync(IReleaseStore store, LifecycleSample releases)
    {
        var lifecycle = store.Lifecycle;
        var lastTransition = (await lifecycle.GetReleaseTransitionsAsync(releases.PreDeployed, None)).Max(t => t.Sequence);
        var lastRun = (await lifecycle.GetReleaseRunsAsync(releases.PreDeployed, None)).Max(r => r.Sequence);
        var lastDelivery = (await store.FindWebhookDeliveriesAsync(new WebhookDeliveryQuery(), None)).Max(d => d.Sequence);

        // The restored approval still counts: its approver cannot approve again, and the second of the two approvals the
        // restored policy asks for approves the pending release.
        var again = await lifecycle.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = releases.PendingReview, Approver = "BOB", Revision = 1, RequiredApprovals = 2 }, None);
        Assert.Equal(ReleaseChangeRefusal.AlreadyApproved, again.Refusal);
        var approved = await lifecycle.ApproveReleaseAsync(new ReleaseApproval
        {
            ReleaseId = releases.PendingReview, Approver = "carol", Revision = 1, RequiredApprovals = (await lifecycle.GetReleasePolicyAsync(None)).RequiredApprovals,
        }, None);
        Assert.Equal((2, ReleaseState.Approved), (approved.Approvals, approved.Release!.State));

        Assert.Equal(new[] { ReleaseEvent.StartProdDeploy, ReleaseEvent.Cancel }.OrderBy(e => e), ReleaseStateMachine.AllowedEvents(ReleaseState.PreDeployed).OrderBy(e => e));
        var prod = await Move(lifecycle, releases.PreDeployed, ReleaseEvent.StartProdDeploy);
        Assert.True(prod.Sequence > lastTransition, "a new transition is numbered after the restored ones");
        var run = await lifecycle.AddReleaseRunAsync(new ReleaseRunRecord
        {
            ReleaseId = releases.PreDeployed, TransitionSequence = prod.Sequence, Stage = ReleaseStage.Production, Service = "ledger", Environment = "prod",
            Status = ReleaseRunStatus.Running, StartedAt = DateTimeOffset.UtcNow,
        }, None);
        Assert.True(run.Sequence > lastRun, "a new stage run is numbered after the restored ones");
        var delivery = await store.RecordWebhookDeliveryAsync(new NewWebhookDelivery
        {
            Webhook = "audit", NoticeId = "n-after", ReleaseId = releases.PreDeployed, Event = "start_prod_deploy", Status = WebhookDeliveryStatus.Delivered, Attempts = 1,
            LastStatusCode = 200, Elapsed = TimeSpan.FromMilliseconds(20),
        }, None);
        Assert.True(delivery.Sequence > lastDelivery, "a new delivery is numbered after the restored ones");
        var history = await lifecycle.GetReleaseTransitionsAsync(releases.PreDeployed, None);
        Assert.Equal(new[] { "create", "approve", "confirm_tag", "start_pre_deploy", "pre_deploy_failed", "start_pre_deploy", "pre_deploy_completed", "start_prod_deploy" },
            history.Select(h => h.Event));
        Assert.Equal(ReleaseState.ProdDeploying, (await lifecycle.GetReleaseAsync(releases.PreDeployed, None))!.State);
    }

    /// <param name="beforeFormat4">The actual store was restored from a backup older than format 4: its instances are the agents' default instances over HTTP.</param>
    public static async Task AssertSameRecordsAsync(IReleaseStore expected, IReleaseStore actual, string deploymentId, bool beforeFormat4 = false)
    {
        var expectedInstances = (await expected.FindInstancesAsync(new InstanceQuery(), None))
            .Select(i => beforeFormat4 ? i with { AgentInstance = null, UseHttps = false, AgentCertificate = null } : i);
        Assert.Equal(expectedInstances, await actual.FindInstancesAsync(new InstanceQuery(), None), new RecordComparer<InstanceRecord>());
        Assert.Equal(await expected.GetDeploymentAsync(deploymentId, None), await actual.GetDeploymentAsync(deploymentId, None));
        Assert.Equal(await expected.GetTargetsAsync(deploymentId, None), await actual.GetTargetsAsync(deploymentId, None));
        Assert.Equal(await expected.GetHistoryAsync("orders-2", 0, None), await actual.GetHistoryAsync("orders-2", 0, None));
        var attempts = await actual.GetHistoryIncludingRevertedAsync("orders-2", 0, None);
        Assert.Equal(await expected.GetHistoryIncludingRevertedAsync("orders-2", 0, None), attempts);
        Assert.Equal(new[] { HistoryOutcome.Reverted, HistoryOutcome.Released }, attempts.Select(h => h.Outcome));
        Assert.Equal(await expected.GetAuditAsync(deploymentId, None), await actual.GetAuditAsync(deploymentId, None));
        Assert.Equal(await expected.GetConfigSnapshotAsync("digest-2.0.0", None), await actual.GetConfigSnapshotAsync("digest-2.0.0", None));
        Assert.Equal(await expected.GetVersionsAsync("orders", None), await actual.GetVersionsAsync("orders", None));
    }

    public static List<string> ReadLines(string path)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>The tables format 3 added: what a format-2 backup does not carry, with their manifest labels.</summary>
    private static readonly Dictionary<string, string> Format3Tables = new()
    {
        ["releases"] = "Releases", ["release_entries"] = "ReleaseEntries", ["release_config_snapshots"] = "ReleaseConfigs", ["release_transitions"] = "ReleaseTransitions",
        ["release_approvals"] = "ReleaseApprovals", ["release_runs"] = "ReleaseRuns", ["releasetools_store"] = "ReleasePolicy", ["webhooks"] = "Webhooks",
        ["webhook_deliveries"] = "WebhookDeliveries",
    };

    /// <summary>
    /// A format-3 backup as format 2 wrote it: no lifecycle or webhook tables in the header, rows or manifest, and the
    /// content digest a format-2 release computed over those lines.
    /// </summary>
    public static List<string> AsFormat2(List<string> format4)
    {
        var lines = AsFormat3(format4);
        using var sha = System.Security.Cryptography.SHA256.Create();
        var header = System.Text.Json.Nodes.JsonNode.Parse(lines[0])!;
        header["formatVersion"] = 2;
        var tables = header["tables"]!.AsObject();
        foreach (var table in Format3Tables.Keys)
        {
            Assert.True(tables.Remove(table), $"a format-3 header declares {table}");
        }

        var output = new List<string> { header.ToJsonString() };
        output.AddRange(lines.Skip(1).Take(lines.Count - 2).Where(line => !Format3Tables.ContainsKey((string)System.Text.Json.Nodes.JsonNode.Parse(line)!["t"]!)));
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(lines[^1])!;
        manifest["manifest"]!["formatVersion"] = 2;
        foreach (var label in Format3Tables.Values)
        {
            Assert.True(manifest["manifest"]!["counts"]!.AsObject().Remove(label));
            Assert.True(manifest["manifest"]!["digests"]!.AsObject().Remove(label));
        }

        manifest["manifest"]!["contentDigest"] = Convert.ToHexStringLower(sha.ComputeHash(Encoding.UTF8.GetBytes(string.Concat(output.Select(l => l + "\n")))));
        output.Add(manifest.ToJsonString());
        return output;
    }

    /// <summary>
    /// A format-4 backup as format 3 wrote it: instances without their agent instance, HTTPS flag and pinned certificate,
    /// and the header and manifest (content digest, instances digest) that a format-3 release computed over those lines.
    /// </summary>
    public static List<string> AsFormat3(List<string> lines)
    {
        const int added = 3;
        using var sha = System.Security.Cryptography.SHA256.Create();
        var header = System.Text.Json.Nodes.JsonNode.Parse(lines[0])!;
        header["formatVersion"] = 3;
        var instanceColumns = header["tables"]!["instances"]!.AsArray();
        Assert.Equal("agent_certificate", (string?)instanceColumns[^1]);
        for (var i = 0; i < added; i++) instanceColumns.RemoveAt(instanceColumns.Count - 1);
        var output = new List<string> { header.ToJsonString() };
        var instanceHashes = new List<byte[]>();
        foreach (var line in lines.Skip(1).Take(lines.Count - 2))
        {
            var row = System.Text.Json.Nodes.JsonNode.Parse(line)!;
            if ((string?)row["t"] != "instances")
            {
                output.Add(line);
                continue;
            }

            var values = row["r"]!.AsArray();
            for (var i = 0; i < added; i++) values.RemoveAt(values.Count - 1);
            var canonical = values.ToJsonString();
            instanceHashes.Add(sha.ComputeHash(Encoding.UTF8.GetBytes(canonical)));
            output.Add("{\"t\":\"instances\",\"r\":" + canonical + "}");
        }

        instanceHashes.Sort((a, b) => a.AsSpan().SequenceCompareTo(b));
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(lines[^1])!;
        manifest["manifest"]!["formatVersion"] = 3;
        manifest["manifest"]!["digests"]!["Instances"] = Convert.ToHexStringLower(sha.ComputeHash(instanceHashes.SelectMany(h => h).ToArray()));
        manifest["manifest"]!["contentDigest"] = Convert.ToHexStringLower(sha.ComputeHash(Encoding.UTF8.GetBytes(string.Concat(output.Select(l => l + "\n")))));
        output.Add(manifest.ToJsonString());
        return output;
    }

    /// <summary>
    /// A format-3 backup as format 1 wrote it: what format 2 carried, less the history rows' outcome and failed check, and
    /// the header and manifest (content digest, history digest) that a format-1 release computed over those lines.
    /// </summary>
    public static List<string> AsFormat1(List<string> format3)
    {
        var lines = AsFormat2(format3);
        using var sha = System.Security.Cryptography.SHA256.Create();
        var header = System.Text.Json.Nodes.JsonNode.Parse(lines[0])!;
        header["formatVersion"] = 1;
        var historyColumns = header["tables"]!["version_history"]!.AsArray();
        historyColumns.RemoveAt(historyColumns.Count - 1);
        historyColumns.RemoveAt(historyColumns.Count - 1);
        var output = new List<string> { header.ToJsonString() };
        var historyHashes = new List<byte[]>();
        foreach (var line in lines.Skip(1).Take(lines.Count - 2))
        {
            var row = System.Text.Json.Nodes.JsonNode.Parse(line)!;
            if ((string?)row["t"] != "version_history")
            {
                output.Add(line);
                continue;
            }

            var values = row["r"]!.AsArray();
            values.RemoveAt(values.Count - 1);
            values.RemoveAt(values.Count - 1);
            var canonical = values.ToJsonString();
            historyHashes.Add(sha.ComputeHash(Encoding.UTF8.GetBytes(canonical)));
            output.Add("{\"t\":\"version_history\",\"r\":" + canonical + "}");
        }

        historyHashes.Sort((a, b) => a.AsSpan().SequenceCompareTo(b));
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(lines[^1])!;
        manifest["manifest"]!["formatVersion"] = 1;
        manifest["manifest"]!["digests"]!["HistoryRows"] = Convert.ToHexStringLower(sha.ComputeHash(historyHashes.SelectMany(h => h).ToArray()));
        manifest["manifest"]!["contentDigest"] = Convert.ToHexStringLower(sha.ComputeHash(Encoding.UTF8.GetBytes(string.Concat(output.Select(l => l + "\n")))));
        output.Add(manifest.ToJsonString());
        return output;
    }

    public static void WriteLines(string path, IEnumerable<string> lines)
    {
        using var writer = new StreamWriter(new GZipStream(File.Create(path), CompressionLevel.Fastest), new UTF8Encoding(false));
        foreach (var line in lines)
        {
            writer.Write(line + "\n");
        }
    }

    /// <summary>Records hold lists (tags): compare them by their printed form, which lists every member.</summary>
    private sealed class RecordComparer<T> : IEqualityComparer<T>
    {
        public bool Equals(T? x, T? y) => Describe(x) == Describe(y);

        public int GetHashCode(T obj) => Describe(obj).GetHashCode();

        private static string Describe(T? value) => value is InstanceRecord i ? i with { Tags = Array.Empty<string>() } + string.Join(",", i.Tags) : value?.ToString() ?? "";
    }
}
