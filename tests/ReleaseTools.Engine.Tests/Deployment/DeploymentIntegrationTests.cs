using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>Deployments against real in-process Floyd agents on loopback, a real SQLite store and a real package server.</summary>
public class DeploymentIntegrationTests
{
    [Fact]
    public async Task Twenty_instances_in_three_batches_all_succeed_with_at_most_four_at_once()
    {
        await using var world = await DeploymentWorld.CreateAsync(20);
        foreach (var instance in world.Instances)
        {
            // A short pause inside each push makes overlap certain, so the peak measures the throttle, not luck.
            instance.Probe.Delay(FloydProtocol.PackagePath, TimeSpan.FromMilliseconds(40));
        }

        var log = new EventLog();
        var summary = await world.DeployAsync("1.0.0", world.Settings(throttle: 4, batchSize: 7), log: log);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
        Assert.Equal(20, summary.Succeeded);
        Assert.Equal(20L * DeploymentWorld.PackageContent("1.0.0").Length, summary.PackageBytesSent);
        Assert.InRange(world.Gauge.Peak, 2, 4);
        Assert.Equal(1, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
        Assert.Equal(new[] { 7, 7, 6 }, log.Of<BatchStarted>().OrderBy(b => b.Batch).Select(b => b.InstanceCount));
        Assert.Equal(20, log.Of<InstanceCompleted>().Count(e => e.Result.Status == TargetStatus.Succeeded));

        var record = await world.Store.GetDeploymentAsync(summary.DeploymentId, CancellationToken.None);
        Assert.Equal(DeploymentStatus.Succeeded, record!.Status);
        Assert.Equal(3, record.BatchCount);
        Assert.Equal(20, record.SucceededTargets);
        var targets = await world.Store.GetTargetsAsync(summary.DeploymentId, CancellationToken.None);
        Assert.All(targets, t => Assert.Equal(TargetStatus.Succeeded, t.Status));
        Assert.Equal(new[] { 1, 2, 3 }, targets.Select(t => t.Batch).Distinct().OrderBy(b => b));

        foreach (var instance in world.Instances)
        {
            Assert.Equal("1.0.0", await world.ActiveVersionAsync(instance));
            var history = await world.Store.GetHistoryAsync(instance.InstanceId, 10, CancellationToken.None);
            var row = Assert.Single(history);
            Assert.Equal("1.0.0", row.Version);
            Assert.Equal(summary.DeploymentId, row.DeploymentId);
            Assert.NotNull(row.ConfigDigest);
            Assert.Equal(world.PackageUrl("1.0.0"), row.PackageUrl);
        }

        Assert.Empty(await world.Store.GetLeasesAsync(world.Ids, CancellationToken.None));
    }

    [Fact]
    public async Task A_target_is_written_running_before_its_agent_changes_and_a_target_left_alone_is_written_once()
    {
        await using var world = await DeploymentWorld.CreateAsync(3);
        var store = TargetWriteBatcherTests.CountingStore.Around(world.Store);
        var engine = new DeploymentEngine(store.AsStore, new EngineOptions { PackageCacheDirectory = world.CacheDirectory, LeaseDuration = TimeSpan.FromSeconds(30) });

        var first = await engine.DeployAsync(world.Request("1.0.0", world.Settings()), new EventLog(), CancellationToken.None);
        var moved = store.Written;
        var second = await engine.DeployAsync(world.Request("1.0.0", world.Settings()), new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, first);
        Assert.Equal(3, second.Unchanged);
        foreach (var id in world.Ids)
        {
            Assert.Equal(new[] { TargetStatus.Running, TargetStatus.Succeeded }, moved.Where(w => w.InstanceId == id).Select(w => w.Status));
            Assert.Equal(new[] { TargetStatus.Unchanged }, store.Written.Skip(moved.Count).Where(w => w.InstanceId == id).Select(w => w.Status));
        }

        // The record of the run that changed nothing is what it was when a target was also written running first.
        var targets = await world.Store.GetTargetsAsync(second.DeploymentId, CancellationToken.None);
        Assert.All(targets, t =>
        {
            Assert.Equal((TargetStatus.Unchanged, 1, "1.0.0", false), (t.Status, t.Attempts, t.FromVersion, t.PackageTransferred));
            Assert.NotNull(t.StartedAt);
            Assert.True(t.EndedAt >= t.StartedAt);
        });
        foreach (var id in world.Ids)
        {
            Assert.Equal(first.DeploymentId, Assert.Single(await world.Store.GetHistoryAsync(id, 10, CancellationToken.None)).DeploymentId);
        }
    }

    [Fact]
    public async Task A_redeploy_of_an_unchanged_url_without_a_checksum_downloads_nothing_and_pushes_nothing()
    {
        await using var world = await DeploymentWorld.CreateAsync(3);
        world.Packages.SendETag = true;
        var first = await world.DeployAsync("1.0.0", world.Settings());
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, first);
        var bytesAfterFirst = world.Packages.BodyBytesSent;
        world.ResetCounts();

        var second = await world.DeployAsync("1.0.0", world.Settings());

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, second);
        Assert.Equal(3, second.Unchanged);
        Assert.Equal(0, second.PackageBytesSent);
        // One conditional GET, answered 304: the package is not transferred again, and no agent receives it again.
        Assert.Equal(1, world.Packages.NotModifiedAnswers);
        Assert.Equal(bytesAfterFirst, world.Packages.BodyBytesSent);
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Count(FloydProtocol.PackagePath)));
    }

    [Fact]
    public async Task An_agent_down_in_batch_two_fails_that_batch_skips_batch_three_and_leaves_batch_one_alone()
    {
        await using var world = await DeploymentWorld.CreateAsync(6);
        await world.DeployAsync("1.0.0", world.Settings());
        world.ResetCounts();
        var down = world.Instances[2];
        await world.StopAgentAsync(down);

        var summary = await world.DeployAsync("2.0.0", world.Settings(throttle: 2, batchSize: 2));

        DeploymentWorld.AssertStatus(DeploymentStatus.Failed, summary);
        var byId = summary.Results.ToDictionary(r => r.InstanceId);
        Assert.Equal(TargetStatus.Succeeded, byId["i01"].Status);
        Assert.Equal(TargetStatus.Succeeded, byId["i02"].Status);
        Assert.Equal(TargetStatus.Unreachable, byId[down.InstanceId].Status);
        Assert.Equal(EngineErrorIds.InstanceUnreachable, byId[down.InstanceId].ErrorId);
        Assert.Equal("ping", byId[down.InstanceId].FailedStep);
        Assert.Equal(3, byId[down.InstanceId].Attempts);
        Assert.Equal(TargetStatus.Succeeded, byId["i04"].Status);
        Assert.Equal(TargetStatus.Skipped, byId["i05"].Status);
        Assert.Equal(TargetStatus.Skipped, byId["i06"].Status);
        Assert.Equal(1, summary.Unreachable);
        Assert.Equal(0, summary.Failed);

        Assert.Equal(0, world.Instances[4].Probe.Total);
        Assert.Equal(0, world.Instances[5].Probe.Total);
        Assert.Equal("2.0.0", await world.ActiveVersionAsync(world.Instances[0]));
        Assert.Equal("2.0.0", await world.ActiveVersionAsync(world.Instances[1]));
        Assert.Equal("1.0.0", await world.ActiveVersionAsync(world.Instances[4]));

        var targets = (await world.Store.GetTargetsAsync(summary.DeploymentId, CancellationToken.None)).ToDictionary(t => t.InstanceId);
        Assert.Equal(TargetStatus.Unreachable, targets[down.InstanceId].Status);
        Assert.Contains("did not answer", targets[down.InstanceId].Error);
        Assert.Equal(TargetStatus.Skipped, targets["i06"].Status);
        Assert.Equal(DeploymentStatus.Failed, (await world.Store.GetDeploymentAsync(summary.DeploymentId, CancellationToken.None))!.Status);
        Assert.Equal(InstanceStatus.Unreachable, (await world.Store.GetInstanceAsync(down.InstanceId, CancellationToken.None))!.Status);
        Assert.Equal("2.0.0", (await world.Store.GetInstanceAsync("i01", CancellationToken.None))!.Version);
        Assert.Equal("1.0.0", (await world.Store.GetInstanceAsync("i05", CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task A_transient_503_is_retried_and_the_instance_succeeds()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        var flaky = world.Instances[0];
        flaky.Probe.Fail(FloydProtocol.PackagePath, 503, times: 2);

        var summary = await world.DeployAsync("1.0.0");

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
        var result = summary.Results.Single(r => r.InstanceId == flaky.InstanceId);
        Assert.Equal(TargetStatus.Succeeded, result.Status);
        Assert.Equal(3, result.Attempts);
        Assert.Equal(3, flaky.Probe.Count(FloydProtocol.PackagePath));
        Assert.Equal(1, world.Instances[1].Probe.Count(FloydProtocol.PackagePath));
        Assert.Equal(3, (await world.Store.GetTargetsAsync(summary.DeploymentId, CancellationToken.None)).Single(t => t.InstanceId == flaky.InstanceId).Attempts);
    }

    [Fact]
    public async Task A_signature_rejection_is_not_retried_and_names_the_step()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var instance = world.Instances[0];
        instance.Probe.Fail(FloydProtocol.ActivatePath, 401, times: 1);

        var summary = await world.DeployAsync("1.0.0", world.Settings() with { FailurePolicy = new FailurePolicy { MaxFailedInstances = 1 } });

        var result = Assert.Single(summary.Results);
        Assert.Equal(TargetStatus.Failed, result.Status);
        Assert.Equal(EngineErrorIds.FloydSignatureRejected, result.ErrorId);
        Assert.Equal("activate", result.FailedStep);
        Assert.Contains("test fault 401", result.Error);
        Assert.Equal(1, instance.Probe.Count(FloydProtocol.ActivatePath));
        DeploymentWorld.AssertStatus(DeploymentStatus.Failed, summary);
    }

    [Fact]
    public async Task A_first_release_costs_each_instance_three_pings_because_the_first_brings_the_package_ticket()
    {
        await using var world = await DeploymentWorld.CreateAsync(3);

        var summary = await world.DeployAsync("1.0.0");

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
        Assert.All(world.Instances, i =>
        {
            Assert.Equal(1, i.Probe.Count(FloydProtocol.PackagePath));
            Assert.Equal(1, i.Probe.Count(FloydProtocol.ConfigPath));
            Assert.Equal(1, i.Probe.Count(FloydProtocol.ActivatePath));
            // The opening ping (which brings the package's upload ticket), the config's ticket ping and the verify ping.
            Assert.Equal(3, i.Probe.Count(FloydProtocol.PingPath));
        });
    }

    [Fact]
    public async Task Redeploying_the_same_version_transfers_nothing()
    {
        await using var world = await DeploymentWorld.CreateAsync(3);
        await world.DeployAsync("1.0.0");
        world.ResetCounts();

        var summary = await world.DeployAsync("1.0.0");

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
        Assert.Equal(3, summary.Unchanged);
        Assert.Equal(0, summary.PackageBytesSent);
        Assert.All(summary.Results, r => Assert.False(r.Transferred));
        Assert.All(world.Instances, i =>
        {
            Assert.Equal(0, i.Probe.Count(FloydProtocol.PackagePath));
            Assert.Equal(0, i.Probe.Count(FloydProtocol.ConfigPath));
            Assert.Equal(0, i.Probe.Count(FloydProtocol.ActivatePath));
            Assert.Equal(1, i.Probe.Count(FloydProtocol.PingPath));
        });
        foreach (var instance in world.Instances)
        {
            Assert.Single(await world.Store.GetHistoryAsync(instance.InstanceId, 10, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Force_redeploys_a_current_release()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        await world.DeployAsync("1.0.0");
        world.ResetCounts();

        var summary = await world.DeployAsync("1.0.0", world.Settings() with { Force = true });

        Assert.Equal(TargetStatus.Succeeded, Assert.Single(summary.Results).Status);
        Assert.Equal(1, world.Instances[0].Probe.Count(FloydProtocol.PackagePath));
        Assert.Equal(1, world.Instances[0].Probe.Count(FloydProtocol.ActivatePath));
    }

    [Fact]
    public async Task A_new_config_value_changes_the_fversion_and_sends_only_the_config()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        var first = await world.DeployAsync("1.0.0");
        world.ResetCounts();
        var request = world.Request("1.0.0", world.Settings()) with
        {
            Config = new ConfigSource { TemplatePath = world.ConfigTemplate, Values = new Dictionary<string, string> { ["LogLevel"] = "debug" } },
        };

        var summary = await world.Engine.DeployAsync(request, new EventLog(), CancellationToken.None);

        Assert.Equal(2, summary.Succeeded);
        Assert.All(world.Instances, i =>
        {
            Assert.Equal(0, i.Probe.Count(FloydProtocol.PackagePath));
            Assert.Equal(1, i.Probe.Count(FloydProtocol.ConfigPath));
        });
        var firstRecord = await world.Store.GetDeploymentAsync(first.DeploymentId, CancellationToken.None);
        var secondRecord = await world.Store.GetDeploymentAsync(summary.DeploymentId, CancellationToken.None);
        Assert.NotEqual(firstRecord!.FVersion, secondRecord!.FVersion);
    }

    [Fact]
    public async Task A_dry_run_plans_without_touching_agents_store_or_package()
    {
        await using var world = await DeploymentWorld.CreateAsync(4);
        await world.DeployAsync("1.0.0", instances: world.Instances.Take(2));
        world.ResetCounts();
        var before = await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None);
        await world.StopAgentAsync(world.Instances[3]);

        var plan = await world.Engine.PlanDeploymentAsync(world.Request("1.0.0", world.Settings(batchSize: 2)), CancellationToken.None);

        var targets = plan.Batches.SelectMany(b => b.Targets).ToDictionary(t => t.InstanceId);
        Assert.Equal(2, plan.Batches.Count);
        Assert.Equal(PlannedAction.AlreadyCurrent, targets["i01"].Action);
        Assert.Equal(PlannedAction.AlreadyCurrent, targets["i02"].Action);
        Assert.Equal(PlannedAction.Change, targets["i03"].Action);
        Assert.True(targets["i03"].NeedsPackage);
        Assert.Equal(PlannedAction.Unreachable, targets["i04"].Action);
        Assert.Equal(DeploymentWorld.PackageContent("1.0.0").Length, plan.PackageBytes);
        Assert.Equal(plan.PackageBytes, plan.BytesToSend);

        Assert.Equal(1, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
        // Read-only: pings, and the one unsigned /health through which the client learns the agent's protocol.
        Assert.All(world.Instances.Take(3), i => Assert.Equal(i.Probe.Count(FloydProtocol.PingPath) + i.Probe.Count(FloydProtocol.HealthPath), i.Probe.Total));
        Assert.All(world.Instances.Take(3), i => Assert.True(i.Probe.Count(FloydProtocol.HealthPath) <= 1));
        Assert.Equal(before.Count, (await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Instances_held_by_another_run_are_refused_with_the_holder_named_and_shown_in_the_plan()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        var other = new LeaseOwner { DeploymentId = "d-other", HostName = "build01", ProcessId = 4242 };
        var claim = await world.Store.TryClaimInstancesAsync(other, new[] { "i02" }, TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.True(claim.Acquired);

        var plan = await world.Engine.PlanDeploymentAsync(world.Request("1.0.0", world.Settings()), CancellationToken.None);
        var error = await Assert.ThrowsAsync<DeploymentException>(() => world.DeployAsync("1.0.0"));

        var held = plan.Batches.SelectMany(b => b.Targets).Single(t => t.InstanceId == "i02");
        Assert.Equal(PlannedAction.HeldByOtherDeployment, held.Action);
        Assert.Contains("d-other", held.Detail);
        Assert.Equal(EngineErrorIds.InstanceLeaseConflict, error.ErrorId);
        Assert.Equal(DeploymentErrorKind.ResourceBusy, error.Kind);
        Assert.Contains("d-other", error.Message);
        Assert.Contains("build01", error.Message);
        Assert.Contains("4242", error.Message);
        Assert.Equal(0, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Count(FloydProtocol.PackagePath)));
    }

    [Fact]
    public async Task A_lease_wait_outlasts_a_holder_that_lets_go()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var other = new LeaseOwner { DeploymentId = "d-other", HostName = "build01", ProcessId = 4242 };
        await world.Store.TryClaimInstancesAsync(other, new[] { "i01" }, TimeSpan.FromMinutes(5), CancellationToken.None);
        _ = Task.Delay(400).ContinueWith(_ => world.Store.ReleaseLeasesAsync("d-other", CancellationToken.None));

        var summary = await world.DeployAsync("1.0.0", world.Settings() with { LeaseWait = TimeSpan.FromSeconds(10) });

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
    }

    [Fact]
    public async Task Health_checks_report_each_instance_reachable_or_not_with_its_active_version()
    {
        await using var world = await DeploymentWorld.CreateAsync(3);
        await world.DeployAsync("1.0.0", instances: world.Instances.Take(2));
        await world.StopAgentAsync(world.Instances[1]);

        var results = await world.Engine.TestInstancesAsync(world.Ids, world.Settings(), CancellationToken.None);

        Assert.Equal(world.Ids, results.Select(r => r.InstanceId));
        Assert.True(results[0].Reachable && results[0].Healthy);
        Assert.Equal("1.0.0", results[0].ActiveVersion);
        Assert.False(results[1].Reachable);
        Assert.NotNull(results[1].Error);
        Assert.True(results[2].Healthy);
        Assert.Null(results[2].ActiveVersion);
    }
}
