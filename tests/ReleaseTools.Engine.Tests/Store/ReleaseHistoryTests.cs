using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>The releasehistory part of the store contract, run against every store (see the sealed classes at the end).</summary>
public abstract class ReleaseHistoryContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private IStoreScope? _scope;

    /// <summary>Created on first use, inside the test, so a missing PostgreSQL server skips (or fails) the test itself.</summary>
    private IStoreScope Scope => _scope ??= CreateScope();

    private IReleaseStore Store => Scope.Store;

    protected abstract IStoreScope CreateScope();

    public void Dispose() => _scope?.Dispose();

    [SkippableFact]
    public async Task Each_release_moves_the_instance_and_history_lists_newest_first_with_the_previous_version()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        foreach (var version in new[] { "1.0.0", "1.1.0", "2.0.0" })
        {
            var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(version: version), new[] { StoreSamples.Target("orders-1", version: version) }, None);
            Scope.Clock.Advance(TimeSpan.FromMinutes(5));
            await Store.RecordReleaseAsync(StoreSamples.Release(deployment.DeploymentId, "orders-1", version), None);
        }

        var history = await Store.GetHistoryAsync("orders-1", 0, None);

        Assert.Equal(new[] { "2.0.0", "1.1.0", "1.0.0" }, history.Select(h => h.Version));
        Assert.True(history[0].Sequence > history[1].Sequence && history[1].Sequence > history[2].Sequence);
        Assert.Equal(new[] { "1.1.0", "1.0.0", null }, history.Select(h => h.PreviousVersion));
        Assert.Equal("1.1.0+f1", history[0].PreviousFVersion);
        Assert.Equal(("digest-2.0.0", "appsettings.json"), (history[0].ConfigDigest, history[0].ConfigFileName));
        Assert.Equal(("orders", "prod"), (history[0].Service, history[0].Environment));
        Assert.True(history[0].RecordedAt > history[2].RecordedAt);
        Assert.Equal(new[] { "2.0.0", "1.1.0" }, (await Store.GetHistoryAsync("orders-1", 2, None)).Select(h => h.Version));

        var instance = (await Store.GetInstanceAsync("orders-1", None))!;
        Assert.Equal(("2.0.0", "2.0.0+f1", InstanceStatus.Active), (instance.Version, instance.FVersion, instance.Status));
        var target = Assert.Single(await Store.GetTargetsAsync(history[0].DeploymentId, None));
        Assert.Equal((TargetStatus.Succeeded, 1, true, true), (target.Status, target.Attempts, target.PackageTransferred, target.ConfigTransferred));
        Assert.Equal("1.1.0", target.FromVersion);
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 12, 0, 5, TimeSpan.Zero), target.EndedAt);
    }

    [SkippableFact]
    public async Task An_unchanged_target_of_an_instance_recorded_on_that_release_updates_the_target_but_adds_no_history()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var first = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await Store.RecordReleaseAsync(StoreSamples.Release(first.DeploymentId, "orders-1", "2.0.0"), None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);

        await Store.RecordReleaseAsync(StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0", TargetStatus.Unchanged), None);

        Assert.Equal(new[] { first.DeploymentId }, (await Store.GetHistoryAsync("orders-1", 10, None)).Select(h => h.DeploymentId));
        Assert.Equal("2.0.0", (await Store.GetInstanceAsync("orders-1", None))!.Version);
        var target = Assert.Single(await Store.GetTargetsAsync(deployment.DeploymentId, None));
        Assert.Equal((TargetStatus.Unchanged, false), (target.Status, target.PackageTransferred));
        var counted = await Store.SetDeploymentStatusAsync(deployment.DeploymentId, DeploymentStatus.Succeeded, None);
        Assert.Equal(1, counted.SucceededTargets);
    }

    [SkippableFact]
    public async Task An_unchanged_target_whose_agent_moved_without_the_store_knowing_gets_its_history_row()
    {
        // The agent activated 2.0.0 but the store never heard (a full disk, a killed client); a resumed or new run finds
        // the agent on 2.0.0 already. History must say 2.0.0 came after 1.0.0, or a rollback would go on from 1.0.0.
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var first = await Store.CreateDeploymentAsync(StoreSamples.Deployment(version: "1.0.0"), new[] { StoreSamples.Target("orders-1", version: "1.0.0") }, None);
        await Store.RecordReleaseAsync(StoreSamples.Release(first.DeploymentId, "orders-1", "1.0.0"), None);
        var resumed = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);

        await Store.RecordReleaseAsync(StoreSamples.Release(resumed.DeploymentId, "orders-1", "2.0.0", TargetStatus.Unchanged), None);

        var history = await Store.GetHistoryAsync("orders-1", 10, None);
        Assert.Equal(new[] { ("2.0.0", "1.0.0"), ("1.0.0", (string?)null) }, history.Select(h => (h.Version, h.PreviousVersion)));
        Assert.Equal(resumed.DeploymentId, history[0].DeploymentId);
        Assert.Equal(("2.0.0", "2.0.0+f1"), ((await Store.GetInstanceAsync("orders-1", None))!.Version, (await Store.GetInstanceAsync("orders-1", None))!.FVersion));
        Assert.Equal(TargetStatus.Unchanged, Assert.Single(await Store.GetTargetsAsync(resumed.DeploymentId, None)).Status);
    }

    [SkippableFact]
    public async Task A_release_for_an_unregistered_instance_writes_nothing_at_all()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1"), StoreSamples.Target("ghost-1") }, None);

        var single = await Assert.ThrowsAsync<StoreException>(() => Store.RecordReleaseAsync(StoreSamples.Release(deployment.DeploymentId, "ghost-1", "2.0.0"), None));
        // The good outcome comes first in the batch, so it was fully written before the failure and must be undone.
        var batch = await Assert.ThrowsAsync<StoreException>(() => Store.RecordReleasesAsync(new[]
        {
            StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0"),
            StoreSamples.Release(deployment.DeploymentId, "ghost-1", "2.0.0"),
        }, None));

        Assert.Equal(StoreErrorIds.InstanceNotFound, single.ErrorId);
        Assert.Equal(StoreErrorIds.InstanceNotFound, batch.ErrorId);
        Assert.All(await Store.GetTargetsAsync(deployment.DeploymentId, None), t =>
        {
            Assert.Equal(TargetStatus.Pending, t.Status);
            Assert.Equal(0, t.Attempts);
            Assert.Null(t.EndedAt);
        });
        Assert.Null((await Store.GetInstanceAsync("orders-1", None))!.Version);
        Assert.Empty(await Store.GetHistoryAsync("orders-1", 10, None));
        Assert.Empty(await Store.GetHistoryAsync("ghost-1", 10, None));
        Assert.Empty(await Store.GetVersionsAsync("orders", None));
    }

    [SkippableFact]
    public async Task A_release_takes_what_the_agent_said_ran_before_and_fills_a_gap_from_the_registry()
    {
        await Store.RegisterInstancesAsync(new[] { StoreSamples.Instance("orders-1"), StoreSamples.Instance("orders-2") }, None);
        var first = await Store.CreateDeploymentAsync(StoreSamples.Deployment(version: "1.0.0"),
            new[] { StoreSamples.Target("orders-1", version: "1.0.0"), StoreSamples.Target("orders-2", version: "1.0.0") }, None);
        await Store.RecordReleasesAsync(new[] { StoreSamples.Release(first.DeploymentId, "orders-1", "1.0.0"), StoreSamples.Release(first.DeploymentId, "orders-2", "1.0.0") }, None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2") }, None);

        // The agent of orders-1 reports 1.0.1 (a hotfix the store never heard of); orders-2's agent said nothing.
        await Store.RecordReleasesAsync(new[]
        {
            StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0") with { FromVersion = "1.0.1", FromFVersion = "1.0.1+f9" },
            StoreSamples.Release(deployment.DeploymentId, "orders-2", "2.0.0"),
        }, None);

        var targets = await Store.GetTargetsAsync(deployment.DeploymentId, None);
        Assert.Equal(new (string, string?, string?)[] { ("orders-1", "1.0.1", "1.0.1+f9"), ("orders-2", "1.0.0", "1.0.0+f1") },
            targets.Select(t => (t.InstanceId, t.FromVersion, t.FromFVersion)));
        // History's previous version is the registry's, as before: the row says what the store knew the instance ran.
        Assert.Equal("1.0.0", (await Store.GetHistoryAsync("orders-1", 1, None))[0].PreviousVersion);
    }

    [SkippableFact]
    public async Task Target_writes_committed_together_leave_what_each_write_alone_leaves()
    {
        // The same three writes, to instances a-1..3 one transaction each and to b-1..3 in one transaction.
        var instances = new[] { "a-1", "a-2", "a-3", "b-1", "b-2", "b-3" };
        await Store.RegisterInstancesAsync(instances.Select(id => StoreSamples.Instance(id)).ToList(), None);
        var alone = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("a-1"), StoreSamples.Target("a-2"), StoreSamples.Target("a-3") }, None);
        var together = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("b-1"), StoreSamples.Target("b-2"), StoreSamples.Target("b-3") }, None);
        IReadOnlyList<TargetWrite> Writes(string deploymentId, string prefix) => new[]
        {
            TargetWrite.Of(StoreSamples.Target(prefix + "-1", TargetStatus.Running) with { DeploymentId = deploymentId, StartedAt = Scope.Clock.Now }),
            TargetWrite.Of(StoreSamples.Release(deploymentId, prefix + "-2", "2.0.0")),
            TargetWrite.Of(StoreSamples.Target(prefix + "-3", TargetStatus.Failed) with { DeploymentId = deploymentId, FailedStep = "push", Error = "refused" }),
        };

        foreach (var write in Writes(alone.DeploymentId, "a"))
        {
            await Store.WriteTargetsAsync(new[] { write }, None);
        }

        await Store.WriteTargetsAsync(Writes(together.DeploymentId, "b"), None);

        var afterAlone = await Store.GetTargetsAsync(alone.DeploymentId, None);
        var afterTogether = await Store.GetTargetsAsync(together.DeploymentId, None);
        Assert.Equal(afterAlone.Select(t => t with { DeploymentId = "", InstanceId = t.InstanceId.Substring(2) }),
            afterTogether.Select(t => t with { DeploymentId = "", InstanceId = t.InstanceId.Substring(2) }));
        Assert.Equal((TargetStatus.Running, TargetStatus.Succeeded, TargetStatus.Failed), (afterTogether[0].Status, afterTogether[1].Status, afterTogether[2].Status));
        var countersAlone = (await Store.GetDeploymentAsync(alone.DeploymentId, None))!;
        var countersTogether = (await Store.GetDeploymentAsync(together.DeploymentId, None))!;
        Assert.Equal((1, 1), (countersAlone.SucceededTargets, countersAlone.FailedTargets));
        Assert.Equal((1, 1), (countersTogether.SucceededTargets, countersTogether.FailedTargets));
        var historyAlone = Assert.Single(await Store.GetHistoryAsync("a-2", 0, None));
        var historyTogether = Assert.Single(await Store.GetHistoryAsync("b-2", 0, None));
        Assert.Equal(historyAlone with { Sequence = 0, InstanceId = "", DeploymentId = "", RecordedAt = default }, historyTogether with { Sequence = 0, InstanceId = "", DeploymentId = "", RecordedAt = default });
        Assert.Equal(("2.0.0", "2.0.0+f1"), ((await Store.GetInstanceAsync("b-2", None))!.Version, (await Store.GetInstanceAsync("b-2", None))!.FVersion));
    }

    [SkippableFact]
    public async Task Target_writes_committed_together_are_all_or_none()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2") }, None);

        var error = await Assert.ThrowsAsync<StoreException>(() => Store.WriteTargetsAsync(new[]
        {
            TargetWrite.Of(StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0")),
            TargetWrite.Of(StoreSamples.Target("orders-9", TargetStatus.Running) with { DeploymentId = deployment.DeploymentId }),
        }, None));

        Assert.Equal(StoreErrorIds.DeploymentTargetNotFound, error.ErrorId);
        Assert.All(await Store.GetTargetsAsync(deployment.DeploymentId, None), t => Assert.Equal(TargetStatus.Pending, t.Status));
        Assert.Null((await Store.GetInstanceAsync("orders-1", None))!.Version);
        Assert.Empty(await Store.GetHistoryAsync("orders-1", 10, None));
        Assert.Equal(0, (await Store.GetDeploymentAsync(deployment.DeploymentId, None))!.SucceededTargets);
    }

    [SkippableFact]
    public async Task A_release_for_a_target_outside_the_deployment_is_refused()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), Array.Empty<DeploymentTargetRecord>(), None);

        var error = await Assert.ThrowsAsync<StoreException>(() => Store.RecordReleaseAsync(StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0"), None));

        Assert.Equal(StoreErrorIds.DeploymentTargetNotFound, error.ErrorId);
        Assert.Null((await Store.GetInstanceAsync("orders-1", None))!.Version);
    }

    [SkippableFact]
    public async Task Instances_are_found_by_the_version_they_run()
    {
        await Store.RegisterInstancesAsync(new[] { StoreSamples.Instance("orders-1"), StoreSamples.Instance("orders-2"), StoreSamples.Instance("billing-1", "billing") }, None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2"), StoreSamples.Target("billing-1") }, None);
        await Store.RecordReleasesAsync(new[]
        {
            StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0"),
            StoreSamples.Release(deployment.DeploymentId, "orders-2", "1.9.0"),
            StoreSamples.Release(deployment.DeploymentId, "billing-1", "2.0.0"),
        }, None);

        var onTwo = await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { "orders" }, Version = "2.0.0" }, None);
        var anyServiceOnTwo = await Store.FindInstancesAsync(new InstanceQuery { Version = "2.0.0" }, None);

        Assert.Equal("orders-1", Assert.Single(onTwo).InstanceId);
        Assert.Equal(new[] { "billing-1", "orders-1" }, anyServiceOnTwo.Select(i => i.InstanceId));
    }

    [SkippableFact]
    public async Task Versions_for_completion_come_from_releases_and_imported_history()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await Store.RecordReleaseAsync(StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0"), None);
        await Store.ImportHistoryAsync(new[]
        {
            new VersionHistoryRecord { InstanceId = "orders-1", Service = "orders", Environment = "prod", Version = "1.0.0", FVersion = "1.0.0+f1", DeploymentId = "d-old", RecordedAt = Scope.Clock.Now.AddDays(-30) },
            new VersionHistoryRecord { InstanceId = "billing-1", Service = "billing", Environment = "prod", Version = "7.1.0", FVersion = "7.1.0+f1", DeploymentId = "d-old", RecordedAt = Scope.Clock.Now.AddDays(-30) },
        }, None);

        Assert.Equal(new[] { "1.0.0", "2.0.0" }, await Store.GetVersionsAsync("orders", None));
        Assert.Equal(new[] { "1.0.0", "2.0.0", "7.1.0" }, await Store.GetVersionsAsync(null, None));
        Assert.Equal(new[] { "billing", "orders" }, await Store.GetServiceNamesAsync(None));
    }

    [SkippableFact]
    public async Task A_reverted_attempt_is_listed_in_the_history_a_person_reads_but_is_never_a_release()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        foreach (var version in new[] { "1.0.0", "2.0.0" })
        {
            var released = await Store.CreateDeploymentAsync(StoreSamples.Deployment(version: version), new[] { StoreSamples.Target("orders-1", version: version) }, None);
            Scope.Clock.Advance(TimeSpan.FromMinutes(5));
            await Store.RecordReleaseAsync(StoreSamples.Release(released.DeploymentId, "orders-1", version), None);
        }

        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(version: "3.0.0"), new[] { StoreSamples.Target("orders-1", version: "3.0.0") }, None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(5));
        var failed = StoreSamples.Target("orders-1", TargetStatus.Failed, version: "3.0.0") with
        {
            DeploymentId = deployment.DeploymentId,
            FailedStep = "activate",
            Error = "the health check failed; the agent went back to 2.0.0",
            FromVersion = "2.0.0",
            Attempts = 1,
            EndedAt = Scope.Clock.Now,
        };
        await Store.RecordRevertedAsync(failed, new RevertedAttempt
        {
            Operation = DeploymentOperation.Deploy,
            Version = "3.0.0",
            FVersion = "3.0.0+f1",
            PackageUrl = "https://packages.example/orders-3.0.0.zip",
            PackageMd5 = "00112233445566778899aabbccddeeff",
            ConfigDigest = "digest-3.0.0",
            ConfigFileName = "appsettings.json",
            FailedCheck = "healthCheck",
        }, None);

        var read = await Store.GetHistoryIncludingRevertedAsync("orders-1", 0, None);
        Assert.Equal(new[] { ("3.0.0", HistoryOutcome.Reverted), ("2.0.0", HistoryOutcome.Released), ("1.0.0", HistoryOutcome.Released) },
            read.Select(h => (h.Version, h.Outcome)));
        Assert.Equal(("2.0.0", "2.0.0+f1", "healthCheck", deployment.DeploymentId), (read[0].PreviousVersion, read[0].PreviousFVersion, read[0].FailedCheck, read[0].DeploymentId));
        Assert.Equal(("digest-3.0.0", "00112233445566778899aabbccddeeff"), (read[0].ConfigDigest, read[0].PackageMd5));
        Assert.Equal(new[] { "3.0.0", "2.0.0" }, (await Store.GetHistoryIncludingRevertedAsync("orders-1", 2, None)).Select(h => h.Version));

        // Everything that reasons about what the instance runs sees releases only.
        Assert.Equal(new[] { "2.0.0", "1.0.0" }, (await Store.GetHistoryAsync("orders-1", 0, None)).Select(h => h.Version));
        Assert.Equal("2.0.0", Assert.Single(await Store.GetHistoryAsync("orders-1", 1, None)).Version);
        Assert.Equal("2.0.0", Assert.Single(await Store.FindHistoryAsync(new HistoryQuery { Service = "orders", Environment = "prod", Limit = 1 }, None)).Version);
        Assert.Empty(await Store.FindHistoryAsync(new HistoryQuery { Service = "orders", Version = "3.0.0" }, None));
        Assert.Equal(new[] { "1.0.0", "2.0.0" }, await Store.GetVersionsAsync("orders", None));
        var instance = (await Store.GetInstanceAsync("orders-1", None))!;
        Assert.Equal(("2.0.0", "2.0.0+f1", InstanceStatus.Active), (instance.Version, instance.FVersion, instance.Status));
        Assert.Equal(new[] { "orders-1" }, (await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { "orders" }, Version = "2.0.0" }, None)).Select(i => i.InstanceId));

        // The target was written with the row, and the run counts it failed.
        var target = Assert.Single(await Store.GetTargetsAsync(deployment.DeploymentId, None));
        Assert.Equal((TargetStatus.Failed, "activate", "2.0.0"), (target.Status, target.FailedStep, target.FromVersion));
        Assert.Equal(1, (await Store.SetDeploymentStatusAsync(deployment.DeploymentId, DeploymentStatus.Failed, None)).FailedTargets);
    }

    [SkippableFact]
    public async Task A_reverted_attempt_for_an_unregistered_instance_writes_neither_row_nor_target()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("ghost-1") }, None);
        var failed = StoreSamples.Target("ghost-1", TargetStatus.Failed) with { DeploymentId = deployment.DeploymentId, FailedStep = "activate" };

        await Assert.ThrowsAsync<StoreException>(() => Store.RecordRevertedAsync(failed, new RevertedAttempt { Version = "2.0.0", FVersion = "2.0.0+f1" }, None));

        Assert.Empty(await Store.GetHistoryIncludingRevertedAsync("ghost-1", 0, None));
        Assert.Equal(TargetStatus.Pending, Assert.Single(await Store.GetTargetsAsync(deployment.DeploymentId, None)).Status);
    }

    [SkippableFact]
    public async Task Saving_a_config_snapshot_twice_keeps_the_first_bytes()
    {
        var original = new byte[] { 1, 2, 3, 0, 255 };

        await Store.SaveConfigSnapshotAsync("abc123", "appsettings.json", original, None);
        await Store.SaveConfigSnapshotAsync("abc123", "appsettings.json", new byte[] { 9 }, None);

        Assert.Equal(original, await Store.GetConfigSnapshotAsync("abc123", None));
        Assert.Null(await Store.GetConfigSnapshotAsync("missing", None));
    }
}

public sealed class SqliteReleaseHistoryTests : ReleaseHistoryContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresReleaseHistoryTests : ReleaseHistoryContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}
