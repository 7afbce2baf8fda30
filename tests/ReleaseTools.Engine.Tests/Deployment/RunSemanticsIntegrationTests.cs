using System.Security.Cryptography;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Tests.Packages;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>What a run keeps and protects: the config last deployed, the bytes a version was released with, a dry run without a key, live counters.</summary>
public class RunSemanticsIntegrationTests
{
    [Fact]
    public async Task A_redeploy_without_a_config_source_keeps_the_config_last_deployed_and_Empty_sends_an_empty_one()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("1.0.0"));
        var first = (await world.Store.GetHistoryAsync("i01", 1, CancellationToken.None)).Single();
        var log = new EventLog();

        var kept = await world.Engine.DeployAsync(world.Request("1.0.0", world.Settings() with { Force = true }) with { Config = new ConfigSource() }, log, CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, kept);
        Assert.All(kept.Results, r => Assert.StartsWith($"kept: the config last deployed to {DeploymentWorld.Service}/{DeploymentWorld.Environment}", r.Config));
        Assert.Contains(log.Of<DeploymentNote>(), n => n.Message.Contains("kept"));
        var second = (await world.Store.GetHistoryAsync("i01", 1, CancellationToken.None)).Single();
        Assert.Equal((first.FVersion, first.ConfigDigest, first.ConfigFileName), (second.FVersion, second.ConfigDigest, second.ConfigFileName));
        Assert.NotEqual(first.DeploymentId, second.DeploymentId);

        var empty = await world.Engine.DeployAsync(world.Request("1.0.0", world.Settings()) with { Config = new ConfigSource { Empty = true } }, new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, empty);
        var third = (await world.Store.GetHistoryAsync("i01", 1, CancellationToken.None)).Single();
        Assert.Equal(DeployReleases.NoConfigDigest, third.ConfigDigest);
        Assert.NotEqual(first.FVersion, third.FVersion);
    }

    [Fact]
    public async Task Other_bytes_under_a_released_version_are_refused_before_any_push_unless_the_change_is_allowed()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("1.0.0"));
        var rebuiltBytes = PackageServer.RandomBytes(32 * 1024, 4242);
        var rebuilt = world.Packages.Add("packages/rebuilt/orders-1.0.0.bin", rebuiltBytes);
        var releasedMd5 = Convert.ToHexString(MD5.HashData(DeploymentWorld.PackageContent("1.0.0"))).ToLowerInvariant();
        var rebuiltMd5 = Convert.ToHexString(MD5.HashData(rebuiltBytes)).ToLowerInvariant();
        world.ResetCounts();
        var request = world.Request("1.0.0", world.Settings() with { Force = true }) with { PackageUrl = rebuilt };

        var refused = await Assert.ThrowsAsync<DeploymentException>(() => world.Engine.DeployAsync(request, new EventLog(), CancellationToken.None));

        Assert.Equal(EngineErrorIds.PackageChecksumConflict, refused.ErrorId);
        Assert.Contains(releasedMd5, refused.Message);
        Assert.Contains(rebuiltMd5, refused.Message);
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Total));
        Assert.Single(await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None));

        // With the expected checksum given, the conflict is known before any download.
        var gets = world.Packages.TotalGets;
        var early = await Assert.ThrowsAsync<DeploymentException>(() => world.Engine.DeployAsync(request with { Checksum = rebuiltMd5 }, new EventLog(), CancellationToken.None));
        Assert.Equal(EngineErrorIds.PackageChecksumConflict, early.ErrorId);
        Assert.Equal(gets, world.Packages.TotalGets);

        var allowed = await world.Engine.DeployAsync(request with { AllowChecksumChange = true }, new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, allowed);
        var audit = await world.Store.GetAuditAsync(allowed.DeploymentId, CancellationToken.None);
        Assert.Contains(audit, a => a.Kind == "package-replaced" && a.Message.Contains(releasedMd5) && a.Message.Contains(rebuiltMd5));
    }

    [Fact]
    public async Task A_dry_run_without_a_signing_key_plans_from_the_store_and_says_the_agents_were_not_asked()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("1.0.0"));
        world.ResetCounts();

        var plan = await world.Engine.PlanDeploymentAsync(world.Request("2.0.0", world.Settings() with { PrivateKeyPath = "" }), CancellationToken.None);
        var current = await world.Engine.PlanDeploymentAsync(world.Request("1.0.0", world.Settings() with { PrivateKeyPath = "" }), CancellationToken.None);

        var targets = plan.Batches.SelectMany(b => b.Targets).ToList();
        Assert.All(targets, t => Assert.Equal((PlannedAction.Change, "1.0.0", "2.0.0"), (t.Action, t.CurrentVersion, t.TargetVersion)));
        Assert.Contains("no signing key", Assert.Single(plan.NotChecked));
        Assert.All(current.Batches.SelectMany(b => b.Targets), t => Assert.Equal(PlannedAction.AlreadyCurrent, t.Action));
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Total));
    }

    [Fact]
    public async Task Run_counters_follow_each_target_as_it_finishes_and_cancelled_targets_are_counted()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var targets = new[] { "a", "b", "c" }.Select(id => new DeploymentTargetRecord
        {
            InstanceId = id, Service = DeploymentWorld.Service, Environment = DeploymentWorld.Environment, Batch = 1, TargetVersion = "1.0.0", Status = TargetStatus.Pending,
        }).ToList();
        var run = await world.Store.CreateDeploymentAsync(new NewDeployment { Operation = DeploymentOperation.Deploy, Service = DeploymentWorld.Service, TargetVersion = "1.0.0" },
            targets, CancellationToken.None);
        await world.Store.SetDeploymentStatusAsync(run.DeploymentId, DeploymentStatus.Running, CancellationToken.None);

        await world.Store.UpdateTargetAsync(targets[0] with { DeploymentId = run.DeploymentId, Status = TargetStatus.Unchanged }, CancellationToken.None);
        await world.Store.UpdateTargetAsync(targets[1] with { DeploymentId = run.DeploymentId, Status = TargetStatus.Unreachable }, CancellationToken.None);
        var midway = (await world.Store.GetDeploymentAsync(run.DeploymentId, CancellationToken.None))!;
        await world.Store.UpdateTargetAsync(targets[2] with { DeploymentId = run.DeploymentId, Status = TargetStatus.Cancelled }, CancellationToken.None);
        var after = (await world.Store.GetDeploymentAsync(run.DeploymentId, CancellationToken.None))!;

        Assert.Equal((DeploymentStatus.Running, 1, 1, 0), (midway.Status, midway.SucceededTargets, midway.FailedTargets, midway.CancelledTargets));
        Assert.Equal(1, after.CancelledTargets);
    }
}
