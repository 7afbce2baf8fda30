using System.Diagnostics;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Benchmarks.Scenarios.StoreScale;

/// <summary>
/// Fills an empty store through its public bulk paths, timing each: the registry in chunks as an inventory import
/// sends it, all releases but the last as imported history, and the last release of every instance through the path
/// a deployment takes (a run record with its targets, then the releases recorded in batches), so the registry's
/// versions, the run table and the targets are those a real fleet would leave.
/// </summary>
public static class StoreSeeder
{
    public static async Task SeedAsync(IReleaseStore store, StoreShape shape, ScenarioResult result, string label, CancellationToken cancellationToken)
    {
        var registration = Stopwatch.StartNew();
        const int chunk = 10_000;
        for (var start = 0; start < shape.Instances; start += chunk)
        {
            var batch = Enumerable.Range(start, Math.Min(chunk, shape.Instances - start)).Select(i => new InstanceRegistration
            {
                InstanceId = shape.Id(i), Service = shape.Service(i), Environment = shape.Environment(i),
                Host = $"10.{i / 62500 % 250}.{i / 250 % 250}.{i % 250}", Port = 7070, Tags = ["rack" + (i % 40)],
            }).ToList();
            await store.RegisterInstancesAsync(batch, cancellationToken);
        }

        result.Add(label + "seed: registration", shape.Instances / registration.Elapsed.TotalSeconds, "instances/s");

        var epoch = DateTimeOffset.UtcNow.AddDays(-shape.ReleasesPerInstance - 1);
        var imported = 0;
        var import = Stopwatch.StartNew();
        var rows = new List<VersionHistoryRecord>(50_000);
        for (var release = 0; release < shape.ReleasesPerInstance - 1; release++)
        {
            for (var i = 0; i < shape.Instances; i++)
            {
                rows.Add(History(shape, i, release, epoch.AddDays(release).AddMilliseconds(i)));
                if (rows.Count == rows.Capacity)
                {
                    imported += await store.ImportHistoryAsync(rows, cancellationToken);
                    rows.Clear();
                }
            }
        }

        if (rows.Count > 0)
        {
            imported += await store.ImportHistoryAsync(rows, cancellationToken);
        }

        if (imported > 0)
        {
            result.Add(label + "seed: history import", imported / import.Elapsed.TotalSeconds, "rows/s");
        }

        // The last release of each instance, one run per service and environment slice of TargetsPerDeployment instances.
        var last = shape.ReleasesPerInstance - 1;
        var version = StoreShape.Version(last);
        var recorded = 0;
        var runs = 0;
        var releases = Stopwatch.StartNew();
        for (var service = 0; service < shape.Services; service++)
        {
            foreach (var slice in shape.InstancesOf(service).GroupBy(shape.Environment).SelectMany(g => g.Chunk(shape.TargetsPerDeployment)))
            {
                var serviceName = shape.Service(slice[0]);
                var run = await store.CreateDeploymentAsync(
                    new NewDeployment { Operation = DeploymentOperation.Deploy, Service = serviceName, TargetVersion = version, FVersion = $"fv{last}", InitiatedBy = "bench", InitiatedFrom = "seed", BatchCount = 1 },
                    slice.Select(i => new DeploymentTargetRecord
                    {
                        InstanceId = shape.Id(i), Service = serviceName, Environment = shape.Environment(i), TargetVersion = version, TargetFVersion = $"fv{last}",
                        FromVersion = last == 0 ? null : StoreShape.Version(last - 1), Status = TargetStatus.Pending,
                    }).ToList(), cancellationToken);
                await store.SetDeploymentStatusAsync(run.DeploymentId, DeploymentStatus.Running, cancellationToken);
                await store.RecordReleasesAsync(slice.Select(i => new ReleaseOutcome
                {
                    DeploymentId = run.DeploymentId, InstanceId = shape.Id(i), Operation = DeploymentOperation.Deploy, Version = version, FVersion = $"fv{last}",
                    PackageUrl = $"https://packages.example/{serviceName}/{version}.zip", PackageMd5 = "0123456789abcdef0123456789abcdef",
                    ConfigDigest = "fedcba9876543210fedcba9876543210", ConfigFileName = "app.config", TargetStatus = TargetStatus.Succeeded, Attempts = 1,
                    PackageTransferred = true, ConfigTransferred = true, EndedAt = DateTimeOffset.UtcNow,
                }).ToList(), cancellationToken);
                await store.SetDeploymentStatusAsync(run.DeploymentId, DeploymentStatus.Succeeded, cancellationToken);
                recorded += slice.Length;
                runs++;
            }
        }

        result.Add(label + $"seed: releases recorded in runs of {shape.TargetsPerDeployment}", recorded / releases.Elapsed.TotalSeconds, "releases/s");
        result.Parameters[label + "seeded runs"] = runs.ToString();
    }

    private static VersionHistoryRecord History(StoreShape shape, int instance, int release, DateTimeOffset at) => new()
    {
        InstanceId = shape.Id(instance), Service = shape.Service(instance), Environment = shape.Environment(instance),
        Version = StoreShape.Version(release), FVersion = $"fv{release}",
        PreviousVersion = release == 0 ? null : StoreShape.Version(release - 1), PreviousFVersion = release == 0 ? null : $"fv{release - 1}",
        DeploymentId = $"d-import-{release}", Operation = DeploymentOperation.Deploy, PackageUrl = $"https://packages.example/{shape.Service(instance)}/{StoreShape.Version(release)}.zip",
        PackageMd5 = "0123456789abcdef0123456789abcdef", ConfigDigest = "fedcba9876543210fedcba9876543210", ConfigFileName = "app.config", RecordedAt = at,
    };
}
