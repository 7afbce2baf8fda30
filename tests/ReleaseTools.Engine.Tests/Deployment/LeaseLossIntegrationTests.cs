using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

public sealed class LeaseLossIntegrationTests
{
    [Fact]
    public async Task A_run_that_loses_an_instance_lease_stops_touching_that_instance_and_records_why()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        var lost = world.Instances[0];
        lost.Probe.Delay(FloydProtocol.PackagePath, TimeSpan.FromSeconds(20));
        // Short leases, so the heartbeat (a third of the duration) notices within a second or so; not shorter, or on a
        // loaded machine a late heartbeat loses the healthy instance's lease too.
        using var engine = new DeploymentEngine(world.Store, new EngineOptions { PackageCacheDirectory = world.CacheDirectory, LeaseDuration = TimeSpan.FromSeconds(3) });
        var log = new EventLog();
        log.When(e => e is InstanceStepStarted { Step: "package" } started && started.InstanceId == lost.InstanceId, () =>
            _ = Task.Run(async () =>
            {
                await Task.Delay(100);
                await world.Store.ForceReleaseLeaseAsync(lost.InstanceId, "ops", "taking this instance over", CancellationToken.None);
            }));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var summary = await engine.DeployAsync(world.Request("1.0.0", world.Settings(throttle: 2)), log, CancellationToken.None);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the lost instance held the run for {clock.Elapsed}");
        var targets = (await world.Store.GetTargetsAsync(summary.DeploymentId, CancellationToken.None)).ToDictionary(t => t.InstanceId);
        Assert.Equal(TargetStatus.Failed, targets[lost.InstanceId].Status);
        Assert.Contains("released by someone else", targets[lost.InstanceId].Error);
        Assert.Equal(TargetStatus.Succeeded, targets[world.Instances[1].InstanceId].Status);
        Assert.Equal(0, lost.Probe.Count(FloydProtocol.ActivatePath));
        Assert.Equal(EngineErrorIds.InstanceLeaseLost, summary.Results.Single(r => r.InstanceId == lost.InstanceId).ErrorId);
        var audit = await world.Store.GetAuditAsync(summary.DeploymentId, CancellationToken.None);
        Assert.Contains(audit, a => a.Kind == "lease-lost" && a.Message.Contains(lost.InstanceId));
        Assert.Contains(audit, a => a.Kind == StoreAuditKinds.LeaseForceReleased);
    }
}
