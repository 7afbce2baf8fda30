using System.Diagnostics;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>Resume of runs that were cancelled or whose process died, against real agents and a real store.</summary>
public class ResumeIntegrationTests
{
    [Fact]
    public async Task A_cancelled_deployment_resumes_with_only_the_instances_it_did_not_finish()
    {
        await using var world = await DeploymentWorld.CreateAsync(4);
        world.Instances[2].Probe.Delay(FloydProtocol.PackagePath, TimeSpan.FromSeconds(20));
        using var cancel = new CancellationTokenSource();
        var log = new EventLog();
        log.When(e => e is InstanceStepStarted { InstanceId: "i03", Step: "package" }, () => cancel.CancelAfter(100));

        var cancelled = await world.Engine.DeployAsync(world.Request("1.0.0", world.Settings(throttle: 1, batchSize: 2)), log, cancel.Token);

        DeploymentWorld.AssertStatus(DeploymentStatus.Cancelled, cancelled);
        Assert.Equal(2, cancelled.Succeeded);
        world.Instances[2].Probe.Delay(FloydProtocol.PackagePath, TimeSpan.Zero);
        world.ResetCounts();

        var resumed = await world.Engine.ResumeAsync(new ResumeRequest { DeploymentId = cancelled.DeploymentId, Settings = world.Settings() }, new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, resumed);
        Assert.Equal(new[] { "i03", "i04" }, resumed.Results.Select(r => r.InstanceId).OrderBy(id => id));
        Assert.Equal(0, world.Instances[0].Probe.Total + world.Instances[1].Probe.Total);
        Assert.All(resumed.Results, r => Assert.Equal(1, r.Batch));
    }

    [Fact]
    public async Task Instances_of_a_run_that_recorded_its_end_but_could_not_release_its_leases_are_free_for_the_next_run()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        // As on a full disk between the run's last two writes: its final status was recorded, its leases were not released.
        var failing = new EngineOptions { PackageCacheDirectory = world.CacheDirectory, LeaseDuration = TimeSpan.FromMinutes(10) };
        var engine = new DeploymentEngine(LeaseReleaseFailingStore.Around(world.Store), failing);

        var error = await Assert.ThrowsAsync<StoreException>(() => engine.DeployAsync(world.Request("1.0.0", world.Settings()), new EventLog(), CancellationToken.None));

        Assert.Equal(StoreErrorIds.StoreFull, error.ErrorId);
        Assert.Equal(2, (await world.Store.GetLeasesAsync(null, CancellationToken.None)).Count);
        // The next run neither waits ten minutes for the leases to expire nor is refused: they are freed, and said so.
        var next = await world.DeployAsync("2.0.0");

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, next);
        Assert.Empty(await world.Store.GetLeasesAsync(null, CancellationToken.None));
        var first = (await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None)).Single(d => d.TargetVersion == "1.0.0");
        Assert.Equal(DeploymentStatus.Succeeded, first.Status);
        Assert.Contains(await world.Store.GetAuditAsync(first.DeploymentId, CancellationToken.None), e => e.Kind == StoreAuditKinds.EndedRunLeasesFreed);
    }

    /// <summary>A store whose lease release fails as a full disk makes it fail; everything else goes to the real store.</summary>
    public class LeaseReleaseFailingStore : System.Reflection.DispatchProxy
    {
        private IReleaseStore _inner = null!;

        public static IReleaseStore Around(IReleaseStore inner)
        {
            var proxy = Create<IReleaseStore, LeaseReleaseFailingStore>();
            ((LeaseReleaseFailingStore)(object)proxy)._inner = inner;
            return proxy;
        }

        protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args) =>
            targetMethod!.Name == nameof(IReleaseStore.ReleaseLeasesAsync)
                ? Task.FromException(new StoreException(StoreErrorIds.StoreFull, "The disk holding the store is full."))
                : targetMethod.Invoke(_inner, args);
    }

    [Fact]
    public async Task A_run_whose_process_died_is_marked_interrupted_and_can_be_resumed()
    {
        await using var world = await DeploymentWorld.CreateAsync(3);
        var template = await world.DeployAsync("1.0.0", instances: world.Instances.Take(1));
        var recorded = (await world.Store.GetDeploymentAsync(template.DeploymentId, CancellationToken.None))!;

        // A run of another process that died mid-way: record written, i02 done, i03 still pending, leases held by a dead pid.
        var dead = await DeadProcessAsync();
        var targets = world.Instances.Skip(1).Select(i => new DeploymentTargetRecord
        {
            InstanceId = i.InstanceId, Service = i.Service, Environment = i.Environment, Batch = 1,
            TargetVersion = "1.0.0", TargetFVersion = recorded.FVersion, Status = TargetStatus.Pending,
        }).ToList();
        var orphan = await world.Store.CreateDeploymentAsync(new NewDeployment
        {
            Operation = DeploymentOperation.Deploy, Service = DeploymentWorld.Service, TargetVersion = "1.0.0",
            PackageUrl = recorded.PackageUrl, PackageMd5 = recorded.PackageMd5, FVersion = recorded.FVersion,
            InitiatedBy = "someone", InitiatedFrom = System.Environment.MachineName, BatchCount = 1, ParametersJson = recorded.ParametersJson,
        }, targets, CancellationToken.None);
        await world.Store.SetDeploymentStatusAsync(orphan.DeploymentId, DeploymentStatus.Running, CancellationToken.None);
        var owner = new LeaseOwner { DeploymentId = orphan.DeploymentId, HostName = System.Environment.MachineName, ProcessId = dead.Id, ProcessStartedAt = dead.StartedAt };
        Assert.True((await world.Store.TryClaimInstancesAsync(owner, new[] { "i02", "i03" }, TimeSpan.FromMinutes(10), CancellationToken.None)).Acquired);

        var resumed = await world.Engine.ResumeAsync(new ResumeRequest { DeploymentId = orphan.DeploymentId, Settings = world.Settings() }, new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, resumed);
        // The interrupted run takes its resume's outcome; its audit keeps that it was interrupted, and its targets what happened in it.
        var original = (await world.Store.GetDeploymentAsync(orphan.DeploymentId, CancellationToken.None))!;
        Assert.Equal(DeploymentStatus.Succeeded, original.Status);
        Assert.Equal(resumed.DeploymentId, original.ResumedBy);
        var audit = await world.Store.GetAuditAsync(orphan.DeploymentId, CancellationToken.None);
        Assert.Contains(audit, a => a.Kind == StoreAuditKinds.Interrupted);
        Assert.Contains(audit, a => a.Kind == StoreAuditKinds.Resumed && a.Message.Contains("Interrupted") && a.Message.Contains(resumed.DeploymentId));
        Assert.All(await world.Store.GetTargetsAsync(orphan.DeploymentId, CancellationToken.None), t => Assert.Equal(TargetStatus.Interrupted, t.Status));
        Assert.Equal(new[] { "i02", "i03" }, resumed.Results.Select(r => r.InstanceId).OrderBy(id => id));
        Assert.Equal("1.0.0", await world.ActiveVersionAsync(world.Instances[2]));
        Assert.Equal(recorded.FVersion, (await world.Store.GetInstanceAsync("i03", CancellationToken.None))!.FVersion);
    }

    [Fact]
    public async Task Resume_leaves_an_instance_a_later_run_moved_alone_and_the_resumed_run_is_not_resumable_again()
    {
        await using var world = await DeploymentWorld.CreateAsync(4);
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("1.0.0"));
        world.Instances[2].Probe.Delay(FloydProtocol.PackagePath, TimeSpan.FromSeconds(20));
        using var cancel = new CancellationTokenSource();
        var log = new EventLog();
        log.When(e => e is InstanceStepStarted { InstanceId: "i03", Step: "package" }, () => cancel.CancelAfter(100));
        var cancelled = await world.Engine.DeployAsync(world.Request("2.0.0", world.Settings(throttle: 1, batchSize: 2)), log, cancel.Token);
        DeploymentWorld.AssertStatus(DeploymentStatus.Cancelled, cancelled);
        world.Instances[2].Probe.Delay(FloydProtocol.PackagePath, TimeSpan.Zero);
        var cancelledRecord = (await world.Store.GetDeploymentAsync(cancelled.DeploymentId, CancellationToken.None))!;
        Assert.Equal((2, 2), (cancelledRecord.SucceededTargets, cancelledRecord.CancelledTargets));

        // Meanwhile a newer release reaches i03.
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, await world.DeployAsync("3.0.0", instances: new[] { world.Instances[2] }));
        world.ResetCounts();

        var resumed = await world.Engine.ResumeAsync(new ResumeRequest { DeploymentId = cancelled.DeploymentId, Settings = world.Settings() }, new EventLog(), CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, resumed);
        var byId = resumed.Results.ToDictionary(r => r.InstanceId);
        Assert.Equal(new[] { "i03", "i04" }, byId.Keys.Order());
        Assert.Equal(TargetStatus.Superseded, byId["i03"].Status);
        Assert.Contains("3.0.0", byId["i03"].Error);
        Assert.Equal(TargetStatus.Succeeded, byId["i04"].Status);
        Assert.Equal(0, world.Instances[2].Probe.Total);
        Assert.Equal("3.0.0", await world.ActiveVersionAsync(world.Instances[2]));
        Assert.Equal("2.0.0", await world.ActiveVersionAsync(world.Instances[3]));
        Assert.Equal(TargetStatus.Superseded, (await world.Store.GetTargetsAsync(resumed.DeploymentId, CancellationToken.None)).Single(t => t.InstanceId == "i03").Status);

        var original = (await world.Store.GetDeploymentAsync(cancelled.DeploymentId, CancellationToken.None))!;
        Assert.Equal(DeploymentStatus.Succeeded, original.Status);
        Assert.Equal(resumed.DeploymentId, original.ResumedBy);
        Assert.Equal(TargetStatus.Cancelled, (await world.Store.GetTargetsAsync(cancelled.DeploymentId, CancellationToken.None)).Single(t => t.InstanceId == "i03").Status);

        // Resuming the old run again goes to its resume, which owes nothing: refused, nothing recorded.
        var again = await Assert.ThrowsAsync<DeploymentException>(() =>
            world.Engine.ResumeAsync(new ResumeRequest { DeploymentId = cancelled.DeploymentId, Settings = world.Settings() }, new EventLog(), CancellationToken.None));
        Assert.Equal(EngineErrorIds.DeploymentNotResumable, again.ErrorId);
        Assert.Equal(4, (await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None)).Count);
    }

    [Fact]
    public async Task A_run_can_be_resumed_by_only_one_resume()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var first = await world.DeployAsync("1.0.0");
        var resume = new NewDeployment { Operation = DeploymentOperation.Deploy, Service = DeploymentWorld.Service, TargetVersion = "1.0.0", ResumedFrom = first.DeploymentId };
        var target = new DeploymentTargetRecord { InstanceId = "i01", Service = DeploymentWorld.Service, Environment = DeploymentWorld.Environment, TargetVersion = "1.0.0" };
        await world.Store.CreateDeploymentAsync(resume, new[] { target }, CancellationToken.None);

        var second = await Assert.ThrowsAsync<StoreException>(() => world.Store.CreateDeploymentAsync(resume, new[] { target }, CancellationToken.None));

        Assert.Equal(StoreErrorIds.DeploymentAlreadyResumed, second.ErrorId);
        Assert.Equal(2, (await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None)).Count);
    }

    private static async Task<(int Id, DateTimeOffset StartedAt)> DeadProcessAsync()
    {
        // Lives long enough for its start time to be read (a process that already exited has none on Linux).
        var quick = OperatingSystem.IsWindows() ? new ProcessStartInfo("cmd", "/c ping -n 2 127.0.0.1 >nul") : new ProcessStartInfo("sleep", "0.3");
        quick.UseShellExecute = false;
        using var process = Process.Start(quick)!;
        var started = new DateTimeOffset(process.StartTime.ToUniversalTime());
        await process.WaitForExitAsync();
        return (process.Id, started);
    }
}
