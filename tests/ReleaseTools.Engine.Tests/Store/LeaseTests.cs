using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>The lease part of the store contract, run against every store (see the sealed classes at the end).</summary>
public abstract class LeaseContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private IStoreScope? _scope;

    /// <summary>Created on first use, inside the test, so a missing PostgreSQL server skips (or fails) the test itself.</summary>
    private IStoreScope Scope => _scope ??= CreateScope();

    private IReleaseStore Store => Scope.Store;

    protected abstract IStoreScope CreateScope();

    public void Dispose() => _scope?.Dispose();

    private static LeaseOwner Owner(string deploymentId, string host = "host-a", int pid = 1001) =>
        new() { DeploymentId = deploymentId, HostName = host, ProcessId = pid, ProcessStartedAt = new DateTimeOffset(2026, 11, 23, 11, 0, 0, TimeSpan.Zero) };

    [SkippableFact]
    public async Task Of_many_concurrent_claimers_on_two_store_objects_exactly_one_wins_each_round()
    {
        var first = Store;
        var second = Scope.Open();
        const int claimers = 8;
        for (var round = 0; round < 50; round++)
        {
            var instanceId = $"orders-{round}";
            var attempts = Enumerable.Range(0, claimers).Select(k =>
            {
                var owner = Owner($"d-round{round}-claimer{k}", $"host-{k}", 2000 + k);
                var store = k % 2 == 0 ? first : second;
                return Task.Run(async () => (Owner: owner, Result: await store.TryClaimInstancesAsync(owner, new[] { instanceId, $"orders-{round}-sidecar" }, Minute, None)));
            }).ToArray();

            var results = await Task.WhenAll(attempts);

            var winner = Assert.Single(results, r => r.Result.Acquired);
            Assert.All(results.Where(r => !r.Result.Acquired), loser =>
            {
                Assert.NotEmpty(loser.Result.Conflicts);
                Assert.All(loser.Result.Conflicts, conflict => Assert.Equal(winner.Owner, conflict.Owner));
            });
            var held = await second.GetLeasesAsync(new[] { instanceId }, None);
            Assert.Equal(winner.Owner, Assert.Single(held).Owner);
        }
    }

    [SkippableFact]
    public async Task A_claim_is_all_or_nothing_and_names_the_holder()
    {
        var holder = Owner("d-holder", "build-1", 111);
        Assert.True((await Store.TryClaimInstancesAsync(holder, new[] { "orders-2" }, Minute, None)).Acquired);

        var result = await Store.TryClaimInstancesAsync(Owner("d-late", "build-2", 222), new[] { "orders-1", "orders-2", "orders-3" }, Minute, None);

        Assert.False(result.Acquired);
        var conflict = Assert.Single(result.Conflicts);
        Assert.Equal("orders-2", conflict.InstanceId);
        Assert.Equal(("d-holder", "build-1", 111), (conflict.Owner.DeploymentId, conflict.Owner.HostName, conflict.Owner.ProcessId));
        Assert.Equal(Scope.Clock.Now + Minute, conflict.ExpiresAt);
        Assert.Equal(new[] { "orders-2" }, (await Store.GetLeasesAsync(null, None)).Select(l => l.InstanceId));
    }

    [SkippableFact]
    public async Task The_same_deployment_may_claim_again_and_keeps_its_original_acquisition_time()
    {
        var owner = Owner("d-1");
        await Store.TryClaimInstancesAsync(owner, new[] { "orders-1" }, Minute, None);
        var acquired = Scope.Clock.Now;
        Scope.Clock.Advance(TimeSpan.FromSeconds(20));

        var again = await Store.TryClaimInstancesAsync(owner, new[] { "orders-1", "orders-2" }, Minute, None);

        Assert.True(again.Acquired);
        var lease = (await Store.GetLeasesAsync(new[] { "orders-1" }, None)).Single();
        Assert.Equal(acquired, lease.AcquiredAt);
        Assert.Equal(Scope.Clock.Now + Minute, lease.ExpiresAt);
    }

    [SkippableFact]
    public async Task An_expired_lease_frees_the_instance_for_another_deployment()
    {
        await Store.TryClaimInstancesAsync(Owner("d-old"), new[] { "orders-1" }, Minute, None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(59));
        Assert.False((await Store.TryClaimInstancesAsync(Owner("d-new", pid: 2), new[] { "orders-1" }, Minute, None)).Acquired);

        Scope.Clock.Advance(TimeSpan.FromSeconds(1));
        var result = await Store.TryClaimInstancesAsync(Owner("d-new", pid: 2), new[] { "orders-1" }, Minute, None);

        Assert.True(result.Acquired);
        Assert.Equal("d-new", (await Store.GetLeasesAsync(new[] { "orders-1" }, None)).Single().Owner.DeploymentId);
    }

    [SkippableFact]
    public async Task A_heartbeat_keeps_the_lease_and_release_frees_it()
    {
        await Store.TryClaimInstancesAsync(Owner("d-1"), new[] { "orders-1", "orders-2" }, Minute, None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(50));

        await Store.RenewLeasesAsync("d-1", Minute, None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(50));
        var whileRenewed = await Store.TryClaimInstancesAsync(Owner("d-2", pid: 2), new[] { "orders-1" }, Minute, None);
        await Store.ReleaseLeasesAsync("d-1", None);
        var afterRelease = await Store.TryClaimInstancesAsync(Owner("d-2", pid: 2), new[] { "orders-1" }, Minute, None);

        Assert.False(whileRenewed.Acquired);
        Assert.True(afterRelease.Acquired);
        Assert.Equal(new[] { "orders-1" }, (await Store.GetLeasesAsync(null, None)).Select(l => l.InstanceId));
    }

    [SkippableFact]
    public async Task A_renewal_names_only_the_leases_still_held_so_the_run_knows_which_instances_it_lost()
    {
        await Store.TryClaimInstancesAsync(Owner("d-1"), new[] { "orders-1", "orders-2", "orders-3" }, Minute, None);
        await Store.ForceReleaseLeaseAsync("orders-2", "ops", "stuck", None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(61));
        // orders-3 expired and another run took it before d-1's heartbeat came.
        Assert.True((await Store.TryClaimInstancesAsync(Owner("d-2", pid: 2), new[] { "orders-3" }, Minute, None)).Acquired);

        var renewal = await Store.RenewLeasesAsync("d-1", Minute, None);

        Assert.Equal(new[] { "orders-1" }, renewal.Renewed);
        Assert.Equal("d-2", (await Store.GetLeasesAsync(new[] { "orders-3" }, None)).Single().Owner.DeploymentId);
    }

    [SkippableFact]
    public async Task Each_claim_carries_a_larger_fencing_token_than_the_one_before()
    {
        var first = await Store.TryClaimInstancesAsync(Owner("d-1"), new[] { "orders-1" }, Minute, None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(2));
        var second = await Store.TryClaimInstancesAsync(Owner("d-2", pid: 2), new[] { "orders-1" }, Minute, None);

        Assert.True(first.Acquired && second.Acquired);
        Assert.True(first.FencingToken > 0, "a claim carries a fencing token");
        Assert.True(second.FencingToken > first.FencingToken, $"token {second.FencingToken} after {first.FencingToken}");
        Assert.Equal(second.FencingToken, (await Store.GetLeasesAsync(new[] { "orders-1" }, None)).Single().FencingToken);
    }

    [SkippableFact]
    public async Task A_forced_release_frees_the_instance_and_is_recorded_in_the_holders_audit_trail()
    {
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await Store.TryClaimInstancesAsync(Owner(deployment.DeploymentId, "build-9", 999), new[] { "orders-1" }, Minute, None);

        var released = await Store.ForceReleaseLeaseAsync("orders-1", @"CONTOSO\bob", "build-9 was reimaged mid-run", None);
        var nothing = await Store.ForceReleaseLeaseAsync("orders-1", @"CONTOSO\bob", "again", None);

        Assert.Equal(deployment.DeploymentId, released!.Owner.DeploymentId);
        Assert.Null(nothing);
        Assert.Empty(await Store.GetLeasesAsync(null, None));
        var entry = Assert.Single(await Store.GetAuditAsync(deployment.DeploymentId, None));
        Assert.Equal(StoreAuditKinds.LeaseForceReleased, entry.Kind);
        Assert.Contains(@"CONTOSO\bob", entry.Message);
        Assert.Contains("build-9 was reimaged mid-run", entry.Message);
        Assert.Contains("orders-1", entry.Message);
        Assert.Contains("process 999", entry.Message);
    }

    [SkippableFact]
    public async Task A_running_deployment_whose_owner_died_becomes_interrupted_and_releases_its_instances()
    {
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[]
        {
            StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2"), StoreSamples.Target("orders-3"),
        }, None);
        var targets = await Store.GetTargetsAsync(deployment.DeploymentId, None);
        await Store.UpdateTargetAsync(targets[0] with { Status = TargetStatus.Succeeded }, None);
        await Store.UpdateTargetAsync(targets[1] with { Status = TargetStatus.Running, StartedAt = Scope.Clock.Now }, None);
        await Store.SetDeploymentStatusAsync(deployment.DeploymentId, DeploymentStatus.Running, None);
        var deadOwner = ProcessIdentityTests.ExitedProcessOwner(deployment.DeploymentId);
        // The leases are still valid: only the owner's death tells recovery the run is gone.
        await Store.TryClaimInstancesAsync(deadOwner, new[] { "orders-1", "orders-2", "orders-3" }, TimeSpan.FromHours(1), None);
        var live = await Store.CreateDeploymentAsync(StoreSamples.Deployment("billing"), new[] { StoreSamples.Target("billing-1", service: "billing") }, None);
        await Store.SetDeploymentStatusAsync(live.DeploymentId, DeploymentStatus.Running, None);
        await Store.TryClaimInstancesAsync(ProcessIdentity.Current(live.DeploymentId), new[] { "billing-1" }, TimeSpan.FromHours(1), None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(30));

        var recovered = await Store.RecoverInterruptedAsync(ProcessIdentity.IsAlive, None);

        var interrupted = Assert.Single(recovered);
        Assert.Equal(deployment.DeploymentId, interrupted.DeploymentId);
        Assert.Equal(DeploymentStatus.Interrupted, interrupted.Status);
        Assert.Equal(Scope.Clock.Now, interrupted.EndedAt);
        Assert.Equal((3, 1), (interrupted.TotalTargets, interrupted.SucceededTargets));
        Assert.Equal(new[] { TargetStatus.Succeeded, TargetStatus.Interrupted, TargetStatus.Interrupted },
            (await Store.GetTargetsAsync(deployment.DeploymentId, None)).Select(t => t.Status));
        Assert.Equal(new[] { "billing-1" }, (await Store.GetLeasesAsync(null, None)).Select(l => l.InstanceId));
        var entry = Assert.Single(await Store.GetAuditAsync(deployment.DeploymentId, None));
        Assert.Equal(StoreAuditKinds.Interrupted, entry.Kind);
        Assert.Contains($"process {deadOwner.ProcessId}", entry.Message);
        Assert.Equal(DeploymentStatus.Running, (await Store.GetDeploymentAsync(live.DeploymentId, None))!.Status);
        Assert.Empty(await Store.RecoverInterruptedAsync(ProcessIdentity.IsAlive, None));
    }

    [SkippableFact]
    public async Task A_running_deployment_whose_leases_all_expired_becomes_interrupted_even_when_its_host_cannot_be_checked()
    {
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2") }, None);
        await Store.SetDeploymentStatusAsync(deployment.DeploymentId, DeploymentStatus.Running, None);
        var remote = Owner(deployment.DeploymentId, "far-away-host", 4242);
        await Store.TryClaimInstancesAsync(remote, new[] { "orders-1", "orders-2" }, Minute, None);
        var remoteCountsAsAlive = new Func<LeaseOwner, bool>(ProcessIdentity.IsAlive);

        Scope.Clock.Advance(TimeSpan.FromSeconds(30));
        var whileValid = await Store.RecoverInterruptedAsync(remoteCountsAsAlive, None);
        Scope.Clock.Advance(TimeSpan.FromSeconds(31));
        var afterExpiry = await Store.RecoverInterruptedAsync(remoteCountsAsAlive, None);

        Assert.Empty(whileValid);
        Assert.Equal(DeploymentStatus.Interrupted, Assert.Single(afterExpiry).Status);
        Assert.All(await Store.GetTargetsAsync(deployment.DeploymentId, None), t => Assert.Equal(TargetStatus.Interrupted, t.Status));
        Assert.Empty(await Store.GetLeasesAsync(null, None));
        Assert.Contains("expired", Assert.Single(await Store.GetAuditAsync(deployment.DeploymentId, None)).Message);
    }

    [SkippableFact]
    public async Task Leases_a_run_still_holds_after_recording_its_end_are_freed_by_recovery_and_a_run_in_progress_keeps_its_own()
    {
        // The run wrote its final status, then the store failed before its leases were released (a full disk).
        var ended = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2") }, None);
        await Store.TryClaimInstancesAsync(ProcessIdentity.Current(ended.DeploymentId), new[] { "orders-1", "orders-2" }, TimeSpan.FromHours(1), None);
        await Store.SetDeploymentStatusAsync(ended.DeploymentId, DeploymentStatus.Running, None);
        await Store.SetDeploymentStatusAsync(ended.DeploymentId, DeploymentStatus.Failed, None);
        // Claimed but not yet Running, and Running: both keep their leases.
        var starting = await Store.CreateDeploymentAsync(StoreSamples.Deployment("billing"), new[] { StoreSamples.Target("billing-1", service: "billing") }, None);
        await Store.TryClaimInstancesAsync(ProcessIdentity.Current(starting.DeploymentId), new[] { "billing-1" }, TimeSpan.FromHours(1), None);
        var running = await Store.CreateDeploymentAsync(StoreSamples.Deployment("billing"), new[] { StoreSamples.Target("billing-2", service: "billing") }, None);
        await Store.SetDeploymentStatusAsync(running.DeploymentId, DeploymentStatus.Running, None);
        await Store.TryClaimInstancesAsync(ProcessIdentity.Current(running.DeploymentId), new[] { "billing-2" }, TimeSpan.FromHours(1), None);

        var recovered = await Store.RecoverInterruptedAsync(ProcessIdentity.IsAlive, None);

        Assert.Empty(recovered);
        Assert.Equal(new[] { "billing-1", "billing-2" }, (await Store.GetLeasesAsync(null, None)).Select(l => l.InstanceId));
        Assert.Equal(DeploymentStatus.Failed, (await Store.GetDeploymentAsync(ended.DeploymentId, None))!.Status);
        var entry = Assert.Single(await Store.GetAuditAsync(ended.DeploymentId, None), e => e.Kind == StoreAuditKinds.EndedRunLeasesFreed);
        Assert.Contains("orders-1, orders-2", entry.Message);
        // Another run may claim them now, without waiting for the hour the leases had left.
        var next = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        Assert.True((await Store.TryClaimInstancesAsync(ProcessIdentity.Current(next.DeploymentId), new[] { "orders-1" }, Minute, None)).Acquired);
    }

    [SkippableFact]
    public async Task A_running_deployment_whose_owner_died_after_releasing_its_leases_is_still_recovered()
    {
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await Store.SetDeploymentStatusAsync(deployment.DeploymentId, DeploymentStatus.Running, None);
        var deadOwner = ProcessIdentityTests.ExitedProcessOwner(deployment.DeploymentId);
        await Store.TryClaimInstancesAsync(deadOwner, new[] { "orders-1" }, Minute, None);
        // The run released its leases and died before writing its final status.
        await Store.ReleaseLeasesAsync(deployment.DeploymentId, None);

        var recovered = await Store.RecoverInterruptedAsync(ProcessIdentity.IsAlive, None);

        Assert.Equal(deployment.DeploymentId, Assert.Single(recovered).DeploymentId);
        Assert.Equal(TargetStatus.Interrupted, Assert.Single(await Store.GetTargetsAsync(deployment.DeploymentId, None)).Status);
    }

    [SkippableFact]
    public async Task A_running_deployment_that_never_claimed_anything_is_left_alone()
    {
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await Store.SetDeploymentStatusAsync(deployment.DeploymentId, DeploymentStatus.Running, None);
        Scope.Clock.Advance(TimeSpan.FromHours(1));

        var recovered = await Store.RecoverInterruptedAsync(_ => false, None);

        Assert.Empty(recovered);
        Assert.Equal(DeploymentStatus.Running, (await Store.GetDeploymentAsync(deployment.DeploymentId, None))!.Status);
    }

    [SkippableFact]
    public async Task A_finished_deployment_is_never_marked_interrupted()
    {
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await Store.SetDeploymentStatusAsync(deployment.DeploymentId, DeploymentStatus.Running, None);
        await Store.TryClaimInstancesAsync(Owner(deployment.DeploymentId), new[] { "orders-1" }, Minute, None);
        await Store.SetDeploymentStatusAsync(deployment.DeploymentId, DeploymentStatus.Succeeded, None);

        var recovered = await Store.RecoverInterruptedAsync(_ => false, None);

        Assert.Empty(recovered);
        Assert.Equal(DeploymentStatus.Succeeded, (await Store.GetDeploymentAsync(deployment.DeploymentId, None))!.Status);
    }
}

public sealed class SqliteLeaseTests : LeaseContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresLeaseTests : LeaseContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}
