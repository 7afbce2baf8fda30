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
    public async Task Instances_with_nothing_to_go_back_to_fail_alone_with_a_clear_message_and_the_plan_says_so()
    {
        await using var world = await MixedHistoryAsync();
        world.ResetCounts();

        var plan = await world.Engine.PlanRollbackAsync(Rollback(world, new[] { "i01", "i04" }), CancellationToken.None);
        var summary = await world.Engine.RollbackAsync(Rollback(world, new[] { "i01", "i04" }), new EventLog(), CancellationToken.None);

        var planned = plan.Batches.Single().Targets.ToDictionary(t => t.InstanceId);
        Assert.Equal(PlannedAction.Change, planned["i01"].Action);
        Assert.Equal("1.0.0", planned["i01"].TargetVersion);
        Assert.Equal(PlannedAction.NoPreviousRelease, planned["i04"].Action);
        Assert.Contains("i04", planned["i04"].Detail);

        DeploymentWorld.AssertStatus(DeploymentStatus.PartiallySucceeded, summary);
        var i04 = summary.Results.Single(r => r.InstanceId == "i04");
        Assert.Equal(TargetStatus.Failed, i04.Status);
        Assert.Equal(EngineErrorIds.NoPreviousRelease, i04.ErrorId);
        Assert.Contains("no release before", i04.Error);
        Assert.Equal(TargetStatus.Succeeded, summary.Results.Single(r => r.InstanceId == "i01").Status);
        Assert.Equal(0, world.Instances[3].Probe.Count(FloydProtocol.ActivatePath));
        Assert.Equal("1.0.0", await world.ActiveVersionAsync(world.Instances[3]));
    }
}
