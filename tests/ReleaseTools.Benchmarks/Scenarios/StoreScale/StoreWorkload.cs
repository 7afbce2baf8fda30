using System.Diagnostics;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Benchmarks.Scenarios.StoreScale;

/// <summary>
/// Every query and write the module issues against the store, timed one by one on a seeded store. Each round is what
/// one small run and the people watching it cause: a run of <see cref="StoreShape.TargetsPerDeployment"/> instances
/// is recorded, leased, renewed, one instance released and one found unreachable, then the reads that
/// Get-ServiceInstance, Get-InstanceVersionHistory, Get-ReleaseDeployment, completion, rollback and resume issue.
/// </summary>
public sealed class StoreWorkload
{
    /// <summary>The version the workload's runs deploy; "instances at a version few run" finds them.</summary>
    public const string NewVersion = "2.0.0";

    private IReleaseStore _store;
    private readonly StoreShape _shape;
    private readonly LatencyRecorder _recorder;
    private readonly Random _random = new(7);
    private readonly CancellationToken _cancellationToken;
    private readonly List<string> _finishedRuns = [];
    private readonly List<string> _snapshotDigests = [];
    private int _round;

    public StoreWorkload(IReleaseStore store, StoreShape shape, LatencyRecorder recorder, CancellationToken cancellationToken)
    {
        _store = store;
        _shape = shape;
        _recorder = recorder;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Goes on with the same runs and snapshots on another store object over the same data.</summary>
    public void UseStore(IReleaseStore store) => _store = store;

    /// <summary>Wall time of the write half of all rounds, and how many writes it made.</summary>
    public TimeSpan WriteTime { get; private set; }

    public int Writes { get; private set; }

    public async Task RunRoundAsync()
    {
        _round++;
        var clock = Stopwatch.StartNew();
        Writes += await WriteRoundAsync();
        WriteTime += clock.Elapsed;
        await ReadRoundAsync();
    }

    private async Task<int> WriteRoundAsync()
    {
        var token = _cancellationToken;
        var service = _random.Next(_shape.Services);
        var serviceName = _shape.Service(service);
        var candidates = _shape.InstancesOf(service).ToList();
        var start = _random.Next(Math.Max(1, candidates.Count - _shape.TargetsPerDeployment));
        var instances = candidates.Skip(start).Take(_shape.TargetsPerDeployment).Select(_shape.Id).ToList();
        var targets = instances.Select(id => new DeploymentTargetRecord
        {
            InstanceId = id, Service = serviceName, Environment = "prod", TargetVersion = NewVersion, TargetFVersion = "fv-new", Status = TargetStatus.Pending,
        }).ToList();

        var run = await _recorder.TimeAsync($"write: create a run record ({targets.Count} targets)", () => _store.CreateDeploymentAsync(
            new NewDeployment { Operation = DeploymentOperation.Deploy, Service = serviceName, TargetVersion = NewVersion, FVersion = "fv-new", InitiatedBy = "bench", InitiatedFrom = "bench", BatchCount = 1 },
            targets, token));
        var owner = new LeaseOwner { DeploymentId = run.DeploymentId, HostName = "bench-host", ProcessId = Environment.ProcessId, ProcessStartedAt = DateTimeOffset.UtcNow.AddMinutes(-1) };
        var claim = await _recorder.TimeAsync($"write: claim leases ({instances.Count} instances)", () => _store.TryClaimInstancesAsync(owner, instances, TimeSpan.FromMinutes(2), token));
        if (!claim.Acquired)
        {
            throw new InvalidOperationException($"The benchmark's own claim of {instances.Count} free instances failed.");
        }

        await _recorder.TimeAsync("write: set a run's status", () => _store.SetDeploymentStatusAsync(run.DeploymentId, DeploymentStatus.Running, token));
        var first = targets[0] with { DeploymentId = run.DeploymentId, Status = TargetStatus.Running, StartedAt = DateTimeOffset.UtcNow };
        await _recorder.TimeAsync("write: record a target's state", () => _store.UpdateTargetAsync(first, token));
        var digest = $"{_round:x8}{Guid.NewGuid():N}"[..32];
        _snapshotDigests.Add(digest);
        await _recorder.TimeAsync("write: save a config snapshot", () => _store.SaveConfigSnapshotAsync(digest, "app.config", new byte[2048], token));
        await _recorder.TimeAsync("write: record a release (target, instance, history row)", () => _store.RecordReleaseAsync(new ReleaseOutcome
        {
            DeploymentId = run.DeploymentId, InstanceId = first.InstanceId, Operation = DeploymentOperation.Deploy, Version = NewVersion, FVersion = "fv-new",
            PackageUrl = $"https://packages.example/{serviceName}/{NewVersion}.zip", PackageMd5 = "0123456789abcdef0123456789abcdef", ConfigDigest = digest,
            ConfigFileName = "app.config", TargetStatus = TargetStatus.Succeeded, Attempts = 1, PackageTransferred = true, ConfigTransferred = true,
            StartedAt = first.StartedAt, EndedAt = DateTimeOffset.UtcNow,
        }, token));
        var second = targets[1] with { DeploymentId = run.DeploymentId, Status = TargetStatus.Unreachable, Error = "connection refused", FailedStep = "ping", EndedAt = DateTimeOffset.UtcNow };
        await _recorder.TimeAsync("write: record a target's state", () => _store.UpdateTargetAsync(second, token));
        await _recorder.TimeAsync("write: set an instance's status", () => _store.SetInstanceStatusAsync(second.InstanceId, InstanceStatus.Unreachable, token));
        var renewal = await _recorder.TimeAsync($"write: renew leases ({instances.Count} instances)", () => _store.RenewLeasesAsync(run.DeploymentId, TimeSpan.FromMinutes(2), token));
        if (renewal.Renewed.Count != instances.Count)
        {
            throw new InvalidOperationException($"The renewal kept {renewal.Renewed.Count} of {instances.Count} leases.");
        }

        await _recorder.TimeAsync("write: append an audit entry", () => _store.AppendAuditAsync(run.DeploymentId, "note", "Batch 1 of 1 finished.", token));
        await _recorder.TimeAsync($"write: release leases ({instances.Count} instances)", () => _store.ReleaseLeasesAsync(run.DeploymentId, token));
        await _recorder.TimeAsync("write: set a run's status", () => _store.SetDeploymentStatusAsync(run.DeploymentId, DeploymentStatus.PartiallySucceeded, token));
        var registered = _random.Next(_shape.Instances);
        await _recorder.TimeAsync("write: register one instance (update)", () => _store.RegisterInstanceAsync(new InstanceRegistration
        {
            InstanceId = _shape.Id(registered), Service = _shape.Service(registered), Environment = _shape.Environment(registered),
            Host = $"10.{registered / 62500 % 250}.{registered / 250 % 250}.{registered % 250}", Port = 7070, Tags = ["rack" + (registered % 40)],
        }, token));
        _finishedRuns.Add(run.DeploymentId);
        return 13;
    }

    private async Task ReadRoundAsync()
    {
        var token = _cancellationToken;
        var service = _random.Next(_shape.Services);
        var serviceName = _shape.Service(service);
        var instance = service + _shape.Services * _random.Next(_shape.InstancesPerService);
        var id = _shape.Id(instance);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (ids.Count < _shape.TargetsPerDeployment)
        {
            ids.Add(_shape.Id(_random.Next(_shape.Instances)));
        }

        var idList = ids.ToList();
        var run = _finishedRuns[_random.Next(_finishedRuns.Count)];

        await Read($"read: instances of a service ({_shape.InstancesPerService} rows)", () => _store.FindInstancesAsync(new InstanceQuery { Services = [serviceName] }, token));
        await Read($"read: instances of a service in one environment ({_shape.InstancesPerService / 2} rows)",
            () => _store.FindInstancesAsync(new InstanceQuery { Services = [serviceName], Environments = ["prod"] }, token));
        await Read("read: instances of a service at a version few run", () => _store.FindInstancesAsync(new InstanceQuery { Services = [serviceName], Version = NewVersion }, token));
        await Read($"read: resolve a run's instances by id ({ids.Count} ids)", () => _store.FindInstancesAsync(new InstanceQuery { InstanceIds = idList }, token));
        await _recorder.TimeAsync("read: one instance by id", () => _store.GetInstanceAsync(id, token));
        await Read($"read: one instance's history ({_shape.ReleasesPerInstance}+ rows)", () => _store.GetHistoryAsync(id, 50, token));
        await Read("read: last release of a service and environment", () => _store.FindHistoryAsync(new HistoryQuery { Service = serviceName, Environment = "prod", Limit = 1 }, token));
        await Read("read: releases of a service at a version (200 rows)",
            () => _store.FindHistoryAsync(new HistoryQuery { Service = serviceName, Version = _shape.CurrentVersion, Limit = 200 }, token));
        await Read("read: service names (completion)", () => _store.GetServiceNamesAsync(token));
        await Read("read: versions of a service (completion)", () => _store.GetVersionsAsync(serviceName, token));
        await Read("read: newest runs (20)", () => _store.FindDeploymentsAsync(new DeploymentQuery { Limit = 20 }, token));
        await Read("read: newest runs of a service (20)", () => _store.FindDeploymentsAsync(new DeploymentQuery { Services = [serviceName], Limit = 20 }, token));
        await Read("read: running runs", () => _store.FindDeploymentsAsync(new DeploymentQuery { Statuses = [DeploymentStatus.Running], Limit = 0 }, token));
        await _recorder.TimeAsync("read: one run", () => _store.GetDeploymentAsync(run, token));
        await Read($"read: a run's targets ({_shape.TargetsPerDeployment} rows)", () => _store.GetTargetsAsync(run, token));
        await Read("read: a run's audit trail", () => _store.GetAuditAsync(run, token));
        await Read($"read: leases of a run's instances ({ids.Count} ids)", () => _store.GetLeasesAsync(idList, token));
        await _recorder.TimeAsync("read: a config snapshot", () => _store.GetConfigSnapshotAsync(_snapshotDigests[_random.Next(_snapshotDigests.Count)], token));
        await Read("read: recover interrupted runs (every run start)", () => _store.RecoverInterruptedAsync(_ => true, token));
    }

    private Task Read<T>(string operation, Func<Task<IReadOnlyList<T>>> query) => _recorder.TimeAsync(operation, query);
}
