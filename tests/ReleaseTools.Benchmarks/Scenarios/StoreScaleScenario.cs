using System.Diagnostics;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Engine.Store;
using Npgsql;
using ReleaseTools.Engine.Store.Postgres;
using ReleaseTools.Engine.Store.Sqlite;
using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Scenarios;

/// <summary>
/// Store scale: a registry of many instances with a long version history, then the queries users type most
/// (service + version filter, one instance's history) and the write path of deployment records. Runs on a SQLite
/// file, and with <c>--store-postgres &lt;connection string&gt;</c> (or RELEASETOOLS_BENCH_POSTGRES) the same measurements
/// on a PostgreSQL server too, in a schema of its own that is dropped afterwards; those figures are prefixed "postgresql:".
/// </summary>
public static class StoreScaleScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var instanceCount = options.GetInt("store-instances", 100_000);
        var historyRows = options.GetInt("store-history", 1_000_000);
        var services = options.GetInt("store-services", 100);
        var queries = options.GetInt("store-queries", 500);
        var postgres = options.Get("store-postgres") ?? Environment.GetEnvironmentVariable("RELEASETOOLS_BENCH_POSTGRES");
        var result = new ScenarioResult("store", $"{instanceCount} instances, {historyRows} history rows in one SQLite store" + (postgres is null ? "" : " and one PostgreSQL store"));
        result.Parameters["instances"] = instanceCount.ToString();
        result.Parameters["historyRows"] = historyRows.ToString();
        result.Parameters["services"] = services.ToString();

        using (var scratch = new TempDirectory("rt-bench-store"))
        using (var sqlite = SqliteReleaseStore.Open(scratch.Combine("scale.db")))
        {
            await MeasureAsync(sqlite, "", result, instanceCount, historyRows, services, queries, cancellationToken);
            result.Add("store file size", Statistics.MiB(new FileInfo(sqlite.Location).Length), "MiB");
        }

        if (postgres is not null)
        {
            var schema = "rt_bench_" + Guid.NewGuid().ToString("N")[..12];
            try
            {
                using var server = PostgresReleaseStore.Open(new NpgsqlConnectionStringBuilder(postgres) { SearchPath = schema }.ConnectionString);
                await MeasureAsync(server, "postgresql: ", result, instanceCount, historyRows, services, queries, cancellationToken);
            }
            finally
            {
                using var connection = new NpgsqlConnection(postgres);
                connection.Open();
                using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE", connection);
                drop.ExecuteNonQuery();
            }
        }

        return result;
    }

    private static async Task MeasureAsync(IReleaseStore store, string label, ScenarioResult result, int instanceCount, int historyRows, int services, int queries,
        CancellationToken cancellationToken)
    {
        string Service(int i) => $"svc{i % services:D3}";
        string Id(int i) => $"inst-{i:D6}";

        // Registration throughput, in chunks the way an inventory import arrives.
        var registration = Stopwatch.StartNew();
        const int chunk = 10_000;
        for (var start = 0; start < instanceCount; start += chunk)
        {
            var batch = Enumerable.Range(start, Math.Min(chunk, instanceCount - start)).Select(i => new InstanceRegistration
            {
                InstanceId = Id(i), Service = Service(i), Environment = i % 2 == 0 ? "prod" : "staging", Host = $"10.0.{i / 250 % 250}.{i % 250}", Port = 7070,
                Tags = ["rack" + (i % 40)],
            }).ToList();
            await store.RegisterInstancesAsync(batch, cancellationToken);
        }

        registration.Stop();
        result.Add(label + "registration throughput", instanceCount / registration.Elapsed.TotalSeconds, "instances/s");

        // History: every instance gets the same number of releases, oldest first.
        var perInstance = Math.Max(1, historyRows / instanceCount);
        var import = Stopwatch.StartNew();
        var epoch = DateTimeOffset.UtcNow.AddDays(-perInstance);
        var rows = new List<VersionHistoryRecord>(50_000);
        var written = 0;
        for (var release = 0; release < perInstance && written < historyRows; release++)
        {
            for (var i = 0; i < instanceCount && written < historyRows; i++)
            {
                rows.Add(new VersionHistoryRecord
                {
                    InstanceId = Id(i), Service = Service(i), Environment = "prod", Version = $"1.{release}.0", FVersion = $"fv{release}",
                    PreviousVersion = release == 0 ? null : $"1.{release - 1}.0", PreviousFVersion = release == 0 ? null : $"fv{release - 1}",
                    DeploymentId = $"d-import-{release}", Operation = DeploymentOperation.Deploy, PackageUrl = $"https://packages.example/{release}.zip",
                    PackageMd5 = "0123456789abcdef0123456789abcdef", ConfigDigest = "fedcba9876543210fedcba9876543210", ConfigFileName = "app.config",
                    RecordedAt = epoch.AddDays(release),
                });
                written++;
                if (rows.Count == rows.Capacity)
                {
                    await store.ImportHistoryAsync(rows, cancellationToken);
                    rows.Clear();
                }
            }
        }

        if (rows.Count > 0)
        {
            await store.ImportHistoryAsync(rows, cancellationToken);
        }

        import.Stop();
        result.Add(label + "history import throughput", written / import.Elapsed.TotalSeconds, "rows/s");

        // Deployment record writes: each run opens a record, marks its target, records the release, closes the record.
        var probeService = Service(42);
        var probeIds = Enumerable.Range(0, instanceCount).Where(i => Service(i) == probeService).Select(Id).ToList();
        var writes = 0;
        var deployments = 0;
        var writeClock = Stopwatch.StartNew();
        while (writeClock.Elapsed < TimeSpan.FromSeconds(3) && deployments < probeIds.Count)
        {
            var instanceId = probeIds[deployments];
            var version = deployments < 50 ? "2.1.0" : "2.0.0";
            var record = await store.CreateDeploymentAsync(new NewDeployment { Operation = DeploymentOperation.Deploy, Service = probeService, TargetVersion = version, InitiatedBy = "bench", InitiatedFrom = "bench" },
                [new DeploymentTargetRecord { InstanceId = instanceId, Service = probeService, Environment = "prod", TargetVersion = version, TargetFVersion = "fv-new", Status = TargetStatus.Pending }], cancellationToken);
            await store.SetDeploymentStatusAsync(record.DeploymentId, DeploymentStatus.Running, cancellationToken);
            await store.RecordReleaseAsync(new ReleaseOutcome { DeploymentId = record.DeploymentId, InstanceId = instanceId, Operation = DeploymentOperation.Deploy, Version = version, FVersion = "fv-new", TargetStatus = TargetStatus.Succeeded, Attempts = 1, EndedAt = DateTimeOffset.UtcNow }, cancellationToken);
            await store.SetDeploymentStatusAsync(record.DeploymentId, DeploymentStatus.Succeeded, cancellationToken);
            writes += 4;
            deployments++;
        }

        writeClock.Stop();
        result.Add(label + "deployment record writes", writes / writeClock.Elapsed.TotalSeconds, "writes/s");
        result.Add(label + "complete single-instance deployment records", deployments / writeClock.Elapsed.TotalSeconds, "deployments/s");

        // Queries, timed one by one after a warm-up, as an interactive user would run them.
        var random = new Random(3);
        var narrow = await TimeAsync(queries, () => store.FindInstancesAsync(new InstanceQuery { Services = [probeService], Version = "2.1.0" }, cancellationToken));
        var byService = await TimeAsync(queries, () => store.FindInstancesAsync(new InstanceQuery { Services = [Service(random.Next(services))] }, cancellationToken));
        var history = await TimeAsync(queries, () => store.GetHistoryAsync(Id(random.Next(instanceCount)), 50, cancellationToken));
        var narrowCount = (await store.FindInstancesAsync(new InstanceQuery { Services = [probeService], Version = "2.1.0" }, cancellationToken)).Count;

        result.Add(label + $"service + version filter p50 ({narrowCount} rows)", Statistics.Percentile(narrow, 50), "ms");
        result.AddAtMost(label + $"service + version filter p99 ({narrowCount} rows)", Statistics.Percentile(narrow, 99), "ms", 5);
        result.Add(label + $"service filter p50 ({instanceCount / services} rows)", Statistics.Percentile(byService, 50), "ms");
        result.Add(label + $"service filter p99 ({instanceCount / services} rows)", Statistics.Percentile(byService, 99), "ms");
        result.Add(label + $"one instance's history p50 ({perInstance} rows)", Statistics.Percentile(history, 50), "ms");
        result.AddAtMost(label + $"one instance's history p99 ({perInstance} rows)", Statistics.Percentile(history, 99), "ms", 5);
    }

    private static async Task<List<double>> TimeAsync<T>(int count, Func<Task<T>> query)
    {
        for (var i = 0; i < 10; i++)
        {
            await query();
        }

        var times = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            await query();
            times.Add(stopwatch.Elapsed.TotalMilliseconds);
        }

        return times;
    }
}
