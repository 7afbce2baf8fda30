using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>Failure policy Rollback, resume of failed runs and cancellation, against real agents and a real store.</summary>
public class FailureHandlingIntegrationTests
{
    [Fact]
    public async Task The_rollback_policy_returns_the_failed_batch_to_its_previous_release_and_keeps_earlier_batches()
    {
        await using var world = await DeploymentWorld.CreateAsync(6);
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("1.0.0"));
        world.ResetCounts();
        var broken = world.Instances[3];
        broken.Probe.Fail(FloydProtocol.ActivatePath, 409);
        var log = new EventLog();

        var summary = await world.DeployAsync("2.0.0", world.Settings(throttle: 3, batchSize: 3, new FailurePolicy { Action = FailureAction.Rollback }), log: log);

        DeploymentWorld.AssertStatus(DeploymentStatus.Failed, summary);
        var final = (await world.Store.GetTargetsAsync(summary.DeploymentId, CancellationToken.None)).ToDictionary(t => t.InstanceId);
        Assert.All(new[] { "i01", "i02", "i03" }, id => Assert.Equal(TargetStatus.Succeeded, final[id].Status));
        Assert.Equal(TargetStatus.Failed, final["i04"].Status);
        Assert.Equal("activate", final["i04"].FailedStep);
        Assert.Equal(TargetStatus.RolledBack, final["i05"].Status);
        Assert.Equal(TargetStatus.RolledBack, final["i06"].Status);
        Assert.Equal(2, summary.RolledBack);

        foreach (var instance in world.Instances)
        {
            var expected = instance.InstanceId is "i01" or "i02" or "i03" ? "2.0.0" : "1.0.0";
            Assert.Equal(expected, await world.ActiveVersionAsync(instance));
            Assert.Equal(expected, (await world.Store.GetInstanceAsync(instance.InstanceId, CancellationToken.None))!.Version);
        }

        // The restore reused what the agents kept: the old package was not sent again.
        Assert.Equal(1, world.Instances[4].Probe.Count(FloydProtocol.PackagePath));
        Assert.Equal(2, world.Instances[4].Probe.Count(FloydProtocol.ActivatePath));
        var history = await world.Store.GetHistoryAsync("i05", 10, CancellationToken.None);
        Assert.Equal(new[] { "1.0.0", "2.0.0", "1.0.0" }, history.Select(h => h.Version).Reverse());
        Assert.Equal(DeploymentOperation.Rollback, history[0].Operation);
        Assert.Contains(log.Of<InstanceCompleted>(), e => e.Result.InstanceId == "i05" && e.Result.Status == TargetStatus.RolledBack);
        // One final result per instance: a rolled-back instance is never first reported Succeeded.
        var completed = log.Of<InstanceCompleted>().Select(e => e.Result).ToList();
        Assert.Equal(world.Ids.Order(), completed.Select(r => r.InstanceId).Order());
        Assert.Equal(new[] { "i05", "i06" }, completed.Where(r => r.Status == TargetStatus.RolledBack).Select(r => r.InstanceId).Order());
        Assert.Equal(new[] { "i01", "i02", "i03" }, summary.Results.Where(r => r.Status == TargetStatus.Succeeded).Select(r => r.InstanceId).Order());
        Assert.Contains(log.Of<BatchCompleted>(), b => b.Batch == 2 && b.BreachedPolicy && b.Failed == 1);
    }

    [Fact]
    public async Task Resuming_a_failed_deployment_touches_only_the_instances_that_did_not_succeed()
    {
        await using var world = await DeploymentWorld.CreateAsync(6);
        var broken = world.Instances[2];
        broken.Probe.Fail(FloydProtocol.ConfigPath, 400);
        var failed = await world.DeployAsync("1.0.0", world.Settings(throttle: 2, batchSize: 2));
        DeploymentWorld.AssertStatus(DeploymentStatus.Failed, failed);
        Assert.Equal(TargetStatus.Skipped, failed.Results.Single(r => r.InstanceId == "i05").Status);

        broken.Probe.ClearFaults();
        world.ResetCounts();
        var packageGets = world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0"));
        var log = new EventLog();

        var resumed = await world.Engine.ResumeAsync(new ResumeRequest { DeploymentId = failed.DeploymentId, Settings = world.Settings(throttle: 2) }, log, CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, resumed);
        Assert.Equal(new[] { "i03", "i05", "i06" }, resumed.Results.Select(r => r.InstanceId).OrderBy(id => id));
        foreach (var instance in world.Instances)
        {
            var touched = instance.InstanceId is "i03" or "i05" or "i06";
            Assert.Equal(touched, instance.Probe.Total > 0);
            Assert.Equal("1.0.0", await world.ActiveVersionAsync(instance));
        }

        var record = await world.Store.GetDeploymentAsync(resumed.DeploymentId, CancellationToken.None);
        Assert.Equal(failed.DeploymentId, record!.ResumedFrom);
        Assert.Equal(3, record.TotalTargets);
        // The package came from the cache by URL and MD5; the config from its snapshot gives the same fversion.
        Assert.Equal(packageGets, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
        var original = await world.Store.GetDeploymentAsync(failed.DeploymentId, CancellationToken.None);
        Assert.Equal(original!.FVersion, record.FVersion);
        Assert.Equal(original.PackageMd5, record.PackageMd5);
    }

    [Fact]
    public async Task A_succeeded_deployment_cannot_be_resumed()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var done = await world.DeployAsync("1.0.0");

        var error = await Assert.ThrowsAsync<DeploymentException>(() =>
            world.Engine.ResumeAsync(new ResumeRequest { DeploymentId = done.DeploymentId, Settings = world.Settings() }, new EventLog(), CancellationToken.None));
        var missing = await Assert.ThrowsAsync<DeploymentException>(() =>
            world.Engine.ResumeAsync(new ResumeRequest { DeploymentId = "no-such-run", Settings = world.Settings() }, new EventLog(), CancellationToken.None));

        Assert.Equal(EngineErrorIds.DeploymentNotResumable, error.ErrorId);
        Assert.Equal(EngineErrorIds.DeploymentNotFound, missing.ErrorId);
    }

    [Fact]
    public async Task Cancelling_mid_batch_records_a_cancelled_run_with_no_target_left_running()
    {
        await using var world = await DeploymentWorld.CreateAsync(6);
        foreach (var instance in world.Instances)
        {
            instance.Probe.Delay(FloydProtocol.PackagePath, TimeSpan.FromSeconds(20));
        }

        using var cancel = new CancellationTokenSource();
        var log = new EventLog();
        log.When(e => e is InstanceStepStarted { Step: "package" }, () => cancel.CancelAfter(150));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var summary = await world.Engine.DeployAsync(world.Request("1.0.0", world.Settings(throttle: 2, batchSize: 4)), log, cancel.Token);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"cancellation took {clock.Elapsed}");
        DeploymentWorld.AssertStatus(DeploymentStatus.Cancelled, summary);
        var targets = await world.Store.GetTargetsAsync(summary.DeploymentId, CancellationToken.None);
        Assert.Equal(6, targets.Count);
        Assert.All(targets, t => Assert.Equal(TargetStatus.Cancelled, t.Status));
        Assert.Contains(targets, t => t.FailedStep == "package");
        Assert.Equal(DeploymentStatus.Cancelled, (await world.Store.GetDeploymentAsync(summary.DeploymentId, CancellationToken.None))!.Status);
        Assert.Empty(await world.Store.GetLeasesAsync(world.Ids, CancellationToken.None));
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Count(FloydProtocol.ActivatePath)));
        Assert.Equal(6, summary.Cancelled);
        Assert.Equal(6, log.Of<InstanceCompleted>().Count());
    }
}
