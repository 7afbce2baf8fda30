using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>Invoke-Rollback's engine side: every instance goes back to its own earlier release, package and config together.</summary>
public class RollbackIntegrationTests
{
    /// <summary>i01: 1.0 → 2.0; i02: 1.0 → 2.0 → 3.0; i03: 2.0 → 3.0; i04: 1.0 only.</summary>
    private static async Task<DeploymentWorld> MixedHistoryAsync()
    {
        var world = await DeploymentWorld.CreateAsync(4);
        var i = world.Instances;
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("1.0.0", instances: new[] { i[0], i[1], i[3] }));
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("2.0.0", instances: new[] { i[0], i[1], i[2] }));
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("3.0.0", instances: new[] { i[1], i[2] }));
        return world;
    }

    private static RollbackRequest Rollback(DeploymentWorld world, IEnumerable<string> ids, string? version = null) =>
        new() { InstanceIds = ids.ToList(), Version = version, Settings = world.Settings() with { FailurePolicy = new FailurePolicy { Action = FailureAction.Continue } } };

    [Fact]
    public async Task A_mixed_history_set_goes_back_instance_by_instance_without_downloading()
    {
        await using var world = await MixedHistoryAsync();
        world.ResetCounts();
        var downloads = world.Packages.TotalGets;

        var summary = await world.Engine.RollbackAsync(Rollback(world, new[] { "i01", "i02", "i03" }), new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
        Assert.Equal(DeploymentOperation.Rollback, summary.Operation);
        var byId = summary.Results.ToDictionary(r => r.InstanceId);
        Assert.Equal("1.0.0", byId["i01"].ToVersion);
        Assert.Equal("2.0.0", byId["i02"].ToVersion);
        Assert.Equal("2.0.0", byId["i03"].ToVersion);
        Assert.Equal("2.0.0", byId["i01"].FromVersion);
        Assert.Equal(downloads, world.Packages.TotalGets);
        Assert.Equal(0, world.Packages.TotalGets - downloads);
        Assert.All(world.Instances.Take(3), i => Assert.Equal(0, i.Probe.Count(FloydProtocol.PackagePath)));

        Assert.Equal("1.0.0", await world.ActiveVersionAsync(world.Instances[0]));
        Assert.Equal("2.0.0", await world.ActiveVersionAsync(world.Instances[1]));
        Assert.Equal("2.0.0", await world.ActiveVersionAsync(world.Instances[2]));
        var record = await world.Store.GetDeploymentAsync(summary.DeploymentId, CancellationToken.None);
        Assert.Equal(DeploymentOperation.Rollback, record!.Operation);
        var row = (await world.Store.GetHistoryAsync("i02", 1, CancellationToken.None)).Single();
        Assert.Equal(("2.0.0", "3.0.0", DeploymentOperation.Rollback), (row.Version, row.PreviousVersion, row.Operation));
    }

    [Fact]
    public async Task Rolling_back_twice_keeps_going_back_instead_of_bouncing()
    {
        await using var world = await MixedHistoryAsync();
        var i02 = new[] { "i02" };

        var first = await world.Engine.RollbackAsync(Rollback(world, i02), new EventLog(), CancellationToken.None);
        var second = await world.Engine.RollbackAsync(Rollback(world, i02), new EventLog(), CancellationToken.None);

        Assert.Equal("2.0.0", first.Results.Single().ToVersion);
        Assert.Equal("1.0.0", second.Results.Single().ToVersion);
        Assert.Equal("1.0.0", await world.ActiveVersionAsync(world.Instances[1]));
    }

    [Fact]
    public async Task The_old_package_comes_from_the_cache_when_an_agent_no_longer_holds_it_and_from_its_url_when_the_cache_is_gone()
    {
        await using var world = await MixedHistoryAsync();
        var i01 = world.Instances[0];
        await world.StopAgentAsync(i01);
        // A rebuilt host: same instance, an agent with an empty data directory.
        Directory.Delete(world.Temp.Combine("agents", "agent01"), recursive: true);
        await world.AddInstancesAsync(1);
        var replacement = world.Instances[^1];
        await world.Store.RegisterInstanceAsync(new InstanceRegistration
        {
            InstanceId = "i01", Service = DeploymentWorld.Service, Environment = DeploymentWorld.Environment, Host = "127.0.0.1", Port = replacement.Endpoint.Port,
        }, CancellationToken.None);
        var downloads = world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0"));

        var fromCache = await world.Engine.RollbackAsync(Rollback(world, new[] { "i01" }), new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, fromCache);
        Assert.True(fromCache.Results.Single().Transferred);
        Assert.Equal(1, replacement.Probe.Count(FloydProtocol.PackagePath));
        Assert.Equal(1, replacement.Probe.Count(FloydProtocol.ConfigPath));
        Assert.Equal(downloads, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
        Assert.Equal("1.0.0", await world.ActiveVersionAsync(replacement));

        // Forward again on a new agent state, then roll back with an empty cache: the recorded URL is used, once.
        Directory.Delete(world.CacheDirectory, recursive: true);
        var before = world.Packages.Gets(DeploymentWorld.PackagePath("2.0.0"));
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.Engine.RollbackAsync(Rollback(world, new[] { "i01" }, "2.0.0"), new EventLog(), CancellationToken.None));
        Assert.Equal(before + 1, world.Packages.Gets(DeploymentWorld.PackagePath("2.0.0")));
        Assert.Equal("2.0.0", await world.ActiveVersionAsync(replacement));
    }

    [Fact]
    public async Task An_explicit_version_is_taken_from_each_instances_history_with_its_own_config()
    {
        await using var world = await MixedHistoryAsync();

        var summary = await world.Engine.RollbackAsync(Rollback(world, new[] { "i02", "i03" }, "2.0.0"), new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
        Assert.All(summary.Results, r => Assert.Equal("2.0.0", r.ToVersion));
        var deploy2 = (await world.Store.GetHistoryAsync("i02", 10, CancellationToken.None)).First(h => h.Version == "2.0.0" && h.Operation == DeploymentOperation.Deploy);
        var rollback = (await world.Store.GetHistoryAsync("i02", 1, CancellationToken.None)).Single();
        Assert.Equal(deploy2.FVersion, rollback.FVersion);
        Assert.Equal(deploy2.ConfigDigest, rollback.ConfigDigest);
        Assert.Equal(deploy2.PackageMd5, rollback.PackageMd5);
    }

    [Fact]
    public async Task Instances_with_nothing_to_go_back_to_are_refused_before_the_run_is_recorded_and_the_plan_says_so()
    {
        await using var world = await MixedHistoryAsync();
        world.ResetCounts();
        var log = new EventLog();

        var plan = await world.Engine.PlanRollbackAsync(Rollback(world, new[] { "i01", "i04" }), CancellationToken.None);
        var summary = await world.Engine.RollbackAsync(Rollback(world, new[] { "i01", "i04" }), log, CancellationToken.None);

        var planned = plan.Batches.Single().Targets.ToDictionary(t => t.InstanceId);
        Assert.Equal(PlannedAction.Change, planned["i01"].Action);
        Assert.Equal("1.0.0", planned["i01"].TargetVersion);
        Assert.Equal(PlannedAction.NoPreviousRelease, planned["i04"].Action);
        Assert.Contains("i04", planned["i04"].Detail);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
        Assert.Equal(new[] { "i01" }, summary.Results.Select(r => r.InstanceId));
        var refused = Assert.Single(summary.Refused);
        Assert.Equal(("i04", EngineErrorIds.NoPreviousRelease, true), (refused.InstanceId, refused.ErrorId, refused.IsError));
        Assert.Contains("no release before", refused.Message);
        Assert.DoesNotContain("Resume", refused.Message);
        Assert.Equal("i04", Assert.Single(log.Of<InstanceRefused>()).Refusal.InstanceId);
        Assert.Equal(new[] { "i01" }, (await world.Store.GetTargetsAsync(summary.DeploymentId, CancellationToken.None)).Select(t => t.InstanceId));
        Assert.Equal(0, world.Instances[3].Probe.Total);
        Assert.Equal("1.0.0", await world.ActiveVersionAsync(world.Instances[3]));
    }

    [Fact]
    public async Task A_rollback_that_cannot_work_anywhere_records_no_run()
    {
        await using var world = await MixedHistoryAsync();
        var runs = (await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None)).Count;

        var summary = await world.Engine.RollbackAsync(Rollback(world, new[] { "i03", "i04" }, "9.9.9"), new EventLog(), CancellationToken.None);

        Assert.Equal(DeploymentStatus.Failed, summary.Status);
        Assert.Equal("", summary.DeploymentId);
        Assert.Empty(summary.Results);
        Assert.All(summary.Refused, r => Assert.Equal(EngineErrorIds.ReleaseNotInHistory, r.ErrorId));
        Assert.Equal(new[] { "i03", "i04" }, summary.Refused.Select(r => r.InstanceId).Order());
        Assert.Equal(runs, (await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Undoing_a_deployment_returns_each_moved_instance_to_what_it_ran_before_and_leaves_the_rest_alone()
    {
        await using var world = await DeploymentWorld.CreateAsync(3);
        var i = world.Instances;
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("1.0.0"));
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("2.0.0"));
        i[2].Probe.Fail(FloydProtocol.ActivatePath, 409);
        var third = await world.DeployAsync("3.0.0", world.Settings() with { FailurePolicy = new FailurePolicy { MaxFailedInstances = 1, Action = FailureAction.Continue } });
        Assert.Equal(TargetStatus.Failed, third.Results.Single(r => r.InstanceId == "i03").Status);
        i[2].Probe.ClearFaults();
        world.ResetCounts();

        var undo = third.Results.ToDictionary(r => r.InstanceId, r => r.DeploymentId);
        var summary = await world.Engine.RollbackAsync(new RollbackRequest { InstanceIds = world.Ids, Undo = undo, Settings = world.Settings() }, new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
        Assert.All(summary.Results, r => Assert.Equal(("3.0.0", "2.0.0"), (r.FromVersion, r.ToVersion)));
        Assert.Equal(new[] { "i01", "i02" }, summary.Results.Select(r => r.InstanceId).Order());
        var alone = Assert.Single(summary.Refused);
        Assert.Equal(("i03", EngineErrorIds.RollbackNothingToUndo, false), (alone.InstanceId, alone.ErrorId, alone.IsError));
        Assert.Equal(0, i[2].Probe.Total);
        Assert.Equal("2.0.0", await world.ActiveVersionAsync(i[2]));
        Assert.Equal("2.0.0", await world.ActiveVersionAsync(i[0]));

        // Undoing the same deployment again: it is undone already, nothing moves.
        var again = await world.Engine.RollbackAsync(new RollbackRequest { InstanceIds = world.Ids, Undo = undo, Settings = world.Settings() }, new EventLog(), CancellationToken.None);
        Assert.Empty(again.Results);
        Assert.All(again.Refused, r => Assert.Equal(EngineErrorIds.RollbackNothingToUndo, r.ErrorId));
    }
}
