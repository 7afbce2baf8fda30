using System.Text.RegularExpressions;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>The deploymentrecord part of the store contract, run against every store (see the sealed classes at the end).</summary>
public abstract class DeploymentRecordContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private IStoreScope? _scope;

    /// <summary>Created on first use, inside the test, so a missing PostgreSQL server skips (or fails) the test itself.</summary>
    private IStoreScope Scope => _scope ??= CreateScope();

    private IReleaseStore Store => Scope.Store;

    protected abstract IStoreScope CreateScope();

    public void Dispose() => _scope?.Dispose();

    [SkippableFact]
    public async Task A_new_deployment_is_pending_with_its_targets_and_who_ran_it()
    {
        var created = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[]
        {
            StoreSamples.Target("orders-2", batch: 1), StoreSamples.Target("orders-1", batch: 0), StoreSamples.Target("orders-3", batch: 1),
        }, None);

        Assert.Matches(new Regex("^d-20261123-120000-[0-9a-f]{6}$"), created.DeploymentId);
        Assert.Equal(DeploymentStatus.Pending, created.Status);
        Assert.Equal(3, created.TotalTargets);
        Assert.Equal(Scope.Clock.Now, created.CreatedAt);
        Assert.Null(created.StartedAt);
        var read = await Store.GetDeploymentAsync(created.DeploymentId, None);
        Assert.Equal(created, read);
        Assert.Equal(@"CONTOSO\alice", read!.InitiatedBy);
        Assert.Equal("build-host-7", read.InitiatedFrom);
        Assert.Equal("{\"throttle\":5}", read.ParametersJson);
        var targets = await Store.GetTargetsAsync(created.DeploymentId, None);
        Assert.Equal(new[] { "orders-1", "orders-2", "orders-3" }, targets.Select(t => t.InstanceId));
        Assert.All(targets, t => Assert.Equal(created.DeploymentId, t.DeploymentId));
    }

    [SkippableFact]
    public async Task Deployments_created_in_the_same_second_get_distinct_ids()
    {
        var ids = new HashSet<string>();
        for (var i = 0; i < 30; i++)
        {
            ids.Add((await Store.CreateDeploymentAsync(StoreSamples.Deployment(), Array.Empty<DeploymentTargetRecord>(), None)).DeploymentId);
        }

        Assert.Equal(30, ids.Count);
    }

    [SkippableFact]
    public async Task Counters_are_recomputed_from_the_targets_when_the_status_changes()
    {
        var created = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[]
        {
            StoreSamples.Target("a"), StoreSamples.Target("b"), StoreSamples.Target("c"),
            StoreSamples.Target("d"), StoreSamples.Target("e"), StoreSamples.Target("f"), StoreSamples.Target("g"),
        }, None);
        var targets = await Store.GetTargetsAsync(created.DeploymentId, None);
        var outcomes = new[] { TargetStatus.Succeeded, TargetStatus.Unchanged, TargetStatus.Failed, TargetStatus.Unreachable, TargetStatus.Skipped, TargetStatus.Skipped, TargetStatus.Cancelled };
        for (var i = 0; i < targets.Count; i++)
        {
            await Store.UpdateTargetAsync(targets[i] with { Status = outcomes[i], Attempts = 2, FailedStep = outcomes[i] == TargetStatus.Failed ? "activate" : null }, None);
        }

        var final = await Store.SetDeploymentStatusAsync(created.DeploymentId, DeploymentStatus.PartiallySucceeded, None);

        Assert.Equal((7, 2, 2, 2), (final.TotalTargets, final.SucceededTargets, final.FailedTargets, final.SkippedTargets));
        Assert.Equal(final, await Store.GetDeploymentAsync(created.DeploymentId, None));
        var failed = (await Store.GetTargetsAsync(created.DeploymentId, None)).Single(t => t.InstanceId == "c");
        Assert.Equal(("activate", 2), (failed.FailedStep, failed.Attempts));
    }

    [SkippableFact]
    public async Task Counters_follow_every_target_write_while_the_run_runs()
    {
        foreach (var id in new[] { "a", "b", "c", "d", "e" })
        {
            await Store.RegisterInstanceAsync(StoreSamples.Instance(id), None);
        }

        var created = await Store.CreateDeploymentAsync(StoreSamples.Deployment(),
            new[] { "a", "b", "c", "d", "e" }.Select(id => StoreSamples.Target(id)).ToArray(), None);
        var running = await Store.SetDeploymentStatusAsync(created.DeploymentId, DeploymentStatus.Running, None);
        Assert.Equal((5, 0, 0, 0, 0), Counters(running));

        // Each write as a run makes them, in an order that crosses every counter and comes back out of some.
        var writes = new Func<Task>[]
        {
            () => UpdateAsync("a", TargetStatus.Running),
            () => UpdateAsync("a", TargetStatus.Succeeded),
            () => UpdateAsync("b", TargetStatus.Running),
            () => UpdateAsync("b", TargetStatus.Unreachable),
            () => UpdateAsync("b", TargetStatus.Running),
            () => Store.RecordReleaseAsync(StoreSamples.Release(created.DeploymentId, "b", "2.0.0", TargetStatus.Unchanged), None),
            () => UpdateAsync("c", TargetStatus.Failed),
            () => UpdateAsync("c", TargetStatus.Failed),
            () => UpdateAsync("d", TargetStatus.Skipped),
            () => UpdateAsync("e", TargetStatus.Cancelled),
            () => UpdateAsync("a", TargetStatus.RolledBack),
            () => Store.RecordReleaseAsync(StoreSamples.Release(created.DeploymentId, "e", "2.0.0"), None),
            () => Store.RecordReleasesAsync(new[]
            {
                StoreSamples.Release(created.DeploymentId, "c", "2.0.0"), StoreSamples.Release(created.DeploymentId, "d", "2.0.0", TargetStatus.Unchanged),
            }, None),
        };
        foreach (var write in writes)
        {
            await write();
            var live = (await Store.GetDeploymentAsync(created.DeploymentId, None))!;
            Assert.Equal(Recount(await Store.GetTargetsAsync(created.DeploymentId, None)), Counters(live));
        }

        var final = await Store.SetDeploymentStatusAsync(created.DeploymentId, DeploymentStatus.PartiallySucceeded, None);
        Assert.Equal((5, 4, 0, 0, 0), Counters(final));

        async Task UpdateAsync(string instanceId, TargetStatus status)
        {
            var target = (await Store.GetTargetsAsync(created.DeploymentId, None)).Single(t => t.InstanceId == instanceId);
            await Store.UpdateTargetAsync(target with { Status = status }, None);
        }
    }

    private static (int Total, int Succeeded, int Failed, int Skipped, int Cancelled) Counters(DeploymentRecord run) =>
        (run.TotalTargets, run.SucceededTargets, run.FailedTargets, run.SkippedTargets, run.CancelledTargets);

    /// <summary>What the counters mean, counted here from the targets themselves.</summary>
    private static (int, int, int, int, int) Recount(IReadOnlyList<DeploymentTargetRecord> targets) =>
        (targets.Count,
            targets.Count(t => t.Status is TargetStatus.Succeeded or TargetStatus.Unchanged),
            targets.Count(t => t.Status is TargetStatus.Failed or TargetStatus.Unreachable),
            targets.Count(t => t.Status == TargetStatus.Skipped),
            targets.Count(t => t.Status == TargetStatus.Cancelled));

    [SkippableFact]
    public async Task Running_sets_the_start_time_once_and_a_final_status_sets_the_end_time()
    {
        var created = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(10));
        var started = Scope.Clock.Now;

        var running = await Store.SetDeploymentStatusAsync(created.DeploymentId, DeploymentStatus.Running, None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(10));
        await Store.SetDeploymentStatusAsync(created.DeploymentId, DeploymentStatus.Running, None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(10));
        var ended = await Store.SetDeploymentStatusAsync(created.DeploymentId, DeploymentStatus.Succeeded, None);

        Assert.Equal(DeploymentStatus.Running, running.Status);
        Assert.Equal(started, running.StartedAt);
        Assert.Null(running.EndedAt);
        Assert.Equal(DeploymentStatus.Succeeded, ended.Status);
        Assert.Equal(started, ended.StartedAt);
        Assert.Equal(Scope.Clock.Now, ended.EndedAt);
    }

    [SkippableFact]
    public async Task Deployments_are_listed_newest_first_filtered_by_service_and_status()
    {
        var first = await Store.CreateDeploymentAsync(StoreSamples.Deployment("orders"), Array.Empty<DeploymentTargetRecord>(), None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(1));
        var second = await Store.CreateDeploymentAsync(StoreSamples.Deployment("billing"), Array.Empty<DeploymentTargetRecord>(), None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(1));
        var third = await Store.CreateDeploymentAsync(StoreSamples.Deployment("orders"), Array.Empty<DeploymentTargetRecord>(), None);
        await Store.SetDeploymentStatusAsync(third.DeploymentId, DeploymentStatus.Failed, None);

        Assert.Equal(new[] { third.DeploymentId, second.DeploymentId, first.DeploymentId }, Ids(await Store.FindDeploymentsAsync(new DeploymentQuery(), None)));
        Assert.Equal(new[] { third.DeploymentId, first.DeploymentId }, Ids(await Store.FindDeploymentsAsync(new DeploymentQuery { Services = new[] { "orders" } }, None)));
        Assert.Equal(new[] { second.DeploymentId, first.DeploymentId }, Ids(await Store.FindDeploymentsAsync(new DeploymentQuery { Statuses = new[] { DeploymentStatus.Pending } }, None)));
        Assert.Equal(new[] { third.DeploymentId }, Ids(await Store.FindDeploymentsAsync(new DeploymentQuery { Limit = 1 }, None)));
        Assert.Equal(new[] { second.DeploymentId }, Ids(await Store.FindDeploymentsAsync(new DeploymentQuery { DeploymentId = second.DeploymentId }, None)));
    }

    [SkippableFact]
    public async Task Audit_entries_come_back_in_the_order_they_were_written()
    {
        var created = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), Array.Empty<DeploymentTargetRecord>(), None);

        await Store.AppendAuditAsync(created.DeploymentId, "started", "Batch 1 of 2 started.", None);
        await Store.AppendAuditAsync(created.DeploymentId, "policy", "Failure policy breached: 2 of 4 failed.", None);

        var audit = await Store.GetAuditAsync(created.DeploymentId, None);
        Assert.Equal(new[] { "started", "policy" }, audit.Select(a => a.Kind));
        Assert.True(audit[0].Sequence < audit[1].Sequence);
        Assert.Equal("Failure policy breached: 2 of 4 failed.", audit[1].Message);
    }

    [SkippableFact]
    public async Task Changing_an_unknown_deployment_or_target_is_reported()
    {
        var created = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);

        var noDeployment = await Assert.ThrowsAsync<StoreException>(() => Store.SetDeploymentStatusAsync("d-nope", DeploymentStatus.Running, None));
        var noTarget = await Assert.ThrowsAsync<StoreException>(() => Store.UpdateTargetAsync(StoreSamples.Target("orders-9") with { DeploymentId = created.DeploymentId }, None));

        Assert.Equal(StoreErrorIds.DeploymentNotFound, noDeployment.ErrorId);
        Assert.Equal(StoreErrorIds.DeploymentTargetNotFound, noTarget.ErrorId);
        Assert.Null(await Store.GetDeploymentAsync("d-nope", None));
    }

    private static string[] Ids(IReadOnlyList<DeploymentRecord> deployments) => deployments.Select(d => d.DeploymentId).ToArray();
}

public sealed class SqliteDeploymentRecordTests : DeploymentRecordContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresDeploymentRecordTests : DeploymentRecordContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}
