using System.Diagnostics;
using Npgsql;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Benchmarks.Scenarios.StoreScale;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Portable;
using ReleaseTools.Engine.Store.Postgres;
using ReleaseTools.Engine.Store.Sqlite;
using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Scenarios;

/// <summary>
/// Store scale: a registry of 100,000 instances with 1,000,000 history rows, seeded through the store's bulk paths, then
/// every query and write the module issues timed one by one (p50 and p99, each p99 against the 5 ms target), then a
/// backup of the whole store and its restore into an empty one. Runs on a SQLite file, and with
/// <c>--store-postgres &lt;connection string&gt;</c> (or RELEASETOOLS_BENCH_POSTGRES) on a PostgreSQL server too, in a
/// schema of its own that is dropped afterwards; those figures are prefixed "postgresql:". On PostgreSQL the server's
/// scan counters must show no sequential scan of a large table during the workload.
/// </summary>
public static class StoreScaleScenario
{
    /// <summary>Tables that grow with the fleet and its history: a sequential scan of one is a missing index.</summary>
    private static readonly string[] LargeTables = ["instances", "version_history", "deployments", "deployment_targets"];

    public static async Task<ScenarioResult> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var shape = new StoreShape(
            options.GetInt("store-instances", 100_000),
            options.GetInt("store-history", 1_000_000),
            options.GetInt("store-services", 100),
            options.GetInt("store-targets", 50));
        var rounds = options.GetInt("store-rounds", 1_000);
        var backup = options.Get("store-backup") is not "false";
        var postgres = options.Get("store-postgres") ?? Environment.GetEnvironmentVariable("RELEASETOOLS_BENCH_POSTGRES");
        // --store-skip-sqlite true measures the server alone, for a quicker look at it.
        var sqliteToo = options.Get("store-skip-sqlite") is not "true";
        var result = new ScenarioResult("store",
            $"{shape.Instances} instances, {shape.HistoryRows} history rows in one SQLite store" + (postgres is null ? "" : " and one PostgreSQL store"));
        result.Parameters["instances"] = shape.Instances.ToString();
        result.Parameters["historyRows"] = shape.HistoryRows.ToString();
        result.Parameters["services"] = shape.Services.ToString();
        result.Parameters["targetsPerRun"] = shape.TargetsPerDeployment.ToString();
        result.Parameters["rounds"] = rounds.ToString();

        using (var scratch = new TempDirectory("rt-bench-store"))
        {
            var path = scratch.Combine("scale.db");
            if (sqliteToo)
            {
                await RunSqliteAsync(path, shape, rounds, backup, scratch, result, cancellationToken);
            }

            if (postgres is not null)
            {
                await RunPostgresAsync(postgres, shape, rounds, backup, scratch, result, cancellationToken);
            }
        }

        return result;
    }

    private static async Task RunSqliteAsync(string path, StoreShape shape, int rounds, bool backup, TempDirectory scratch, ScenarioResult result, CancellationToken cancellationToken)
    {
        using (var sqlite = SqliteReleaseStore.Open(path))
        {
            await StoreSeeder.SeedAsync(sqlite, shape, result, "", cancellationToken);
        }

        // Measured on a store opened afresh, as a new PowerShell session finds it.
        using (var sqlite = SqliteReleaseStore.Open(path))
        {
            await MeasureAsync(sqlite, shape, rounds, result, "", cancellationToken);
            if (backup)
            {
                await BackupAndRestoreAsync(sqlite, () => SqliteReleaseStore.Open(scratch.Combine("restored.db")), scratch, result, "", cancellationToken);
            }
        }

        result.Add("store file size", Statistics.MiB(new FileInfo(path).Length), "MiB");
    }

    private static async Task RunPostgresAsync(string server, StoreShape shape, int rounds, bool backup, TempDirectory scratch, ScenarioResult result, CancellationToken cancellationToken)
    {
        const string label = "postgresql: ";
        var schema = "rt_bench_" + Guid.NewGuid().ToString("N")[..12];
        var restoredSchema = schema + "_restored";
        var address = new NpgsqlConnectionStringBuilder(server) { SearchPath = schema }.ConnectionString;
        var scans = new PostgresScanCounter(server, schema);
        try
        {
            using (var store = PostgresReleaseStore.Open(address))
            {
                await StoreSeeder.SeedAsync(store, shape, result, label, cancellationToken);
            }

            // What autovacuum does soon after a load this size; the figures are for a store the server has statistics for.
            await scans.AnalyzeAsync();
            var before = await scans.ReadAsync();
            using (var store = PostgresReleaseStore.Open(address))
            {
                await MeasureAsync(store, shape, rounds, result, label, cancellationToken);
            }

            // The store's pool is closed now, so every backend it used has reported its scans.
            var after = await scans.ReadAsync();
            var sequential = 0L;
            foreach (var table in LargeTables)
            {
                var delta = after[table].Sequential - before[table].Sequential;
                sequential += delta;
                result.Parameters[label + table + " scans during the workload"] = $"{delta} sequential, {after[table].Index - before[table].Index} index";
            }

            result.Add(label + "sequential scans of large tables during the workload", sequential, "scans", "= 0", sequential == 0);

            if (backup)
            {
                using var store = PostgresReleaseStore.Open(address);
                await BackupAndRestoreAsync(store, () => PostgresReleaseStore.Open(new NpgsqlConnectionStringBuilder(server) { SearchPath = restoredSchema }.ConnectionString),
                    scratch, result, label, cancellationToken);
            }
        }
        finally
        {
            using var connection = new NpgsqlConnection(server);
            connection.Open();
            using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS {restoredSchema} CASCADE", connection);
            drop.ExecuteNonQuery();
        }
    }

    private static async Task MeasureAsync(IReleaseStore store, StoreShape shape, int rounds, ScenarioResult result, string label, CancellationToken cancellationToken)
    {
        var recorder = new LatencyRecorder(warmupCalls: 20);
        var workload = new StoreWorkload(store, shape, recorder, cancellationToken);
        for (var round = 0; round < rounds + 20; round++)
        {
            await workload.RunRoundAsync();
        }

        foreach (var operation in recorder.Operations)
        {
            var samples = recorder.Samples(operation);
            result.Add(label + operation + " p50", Statistics.Percentile(samples, 50), "ms");
            result.AddAtMost(label + operation + " p99", Statistics.Percentile(samples, 99), "ms", 5);
        }

        result.Add(label + "writes in the workload", workload.Writes / workload.WriteTime.TotalSeconds, "writes/s");
    }

    /// <summary>A backup of the whole seeded store, then its restore into an empty store of the same kind, with the counts compared.</summary>
    private static async Task BackupAndRestoreAsync(IReleaseStore store, Func<IReleaseStore> openEmpty, TempDirectory scratch, ScenarioResult result, string label,
        CancellationToken cancellationToken)
    {
        var file = scratch.Combine(label.Length == 0 ? "sqlite.rtbackup" : "postgresql.rtbackup");
        var clock = Stopwatch.StartNew();
        var written = await StoreBackup.BackupAsync(store, file, overwrite: true, cancellationToken);
        result.Add(label + "backup of the whole store", clock.Elapsed.TotalSeconds, "s");
        result.Add(label + "backup file size", Statistics.MiB(new FileInfo(file).Length), "MiB");

        using var restored = openEmpty();
        clock.Restart();
        await StoreBackup.RestoreAsync(restored, file, replace: false, cancellationToken);
        var restoreSeconds = clock.Elapsed.TotalSeconds;
        var rows = written.Counts.Values.Sum();
        result.Add(label + "restore into an empty store", restoreSeconds, "s");
        result.Add(label + "restore throughput", rows / restoreSeconds, "rows/s");

        var summary = await StoreBackup.SummarizeAsync(restored, cancellationToken);
        var same = written.Counts.All(c => summary.Counts[c.Key] == c.Value) && written.Digests.All(d => summary.Digests[d.Key] == d.Value);
        result.Add(label + "restored store equals the backup (counts and digests)", same ? 1 : 0, "", "= 1", same);
        if (File.Exists(file))
        {
            File.Delete(file);
        }
    }
}
