using System.Diagnostics;
using Npgsql;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Benchmarks.Scenarios.StoreScale;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Portable;
using ReleaseTools.Engine.Store.Postgres;
using ReleaseTools.Engine.Store.Sqlite;
using ReleaseTools.Testing;
using WalCheckpointPolicy = ReleaseTools.Engine.Store.Sqlite.WalCheckpointPolicy;

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
                await RunSqliteAsync(options, path, shape, rounds, backup, scratch, result, cancellationToken);
            }

            if (postgres is not null)
            {
                await RunPostgresAsync(postgres, shape, rounds, backup, scratch, result, cancellationToken);
            }
        }

        return result;
    }

    private static async Task RunSqliteAsync(BenchmarkOptions options, string path, StoreShape shape, int rounds, bool backup, TempDirectory scratch, ScenarioResult result,
        CancellationToken cancellationToken)
    {
        using (var sqlite = SqliteReleaseStore.Open(path))
        {
            await StoreSeeder.SeedAsync(sqlite, shape, result, "", cancellationToken);
        }

        // Measured on a store opened afresh, as a new PowerShell session finds it. The baseline is SQLite's own checkpoint
        // inside the commit that takes the log past 1000 pages (the store's behaviour before it checkpointed beside the
        // writers), measured in the same run and in alternating halves, so the machine's load falls on both alike.
        var baseline = options.Get("store-sqlite-baseline") is not "false";
        var measured = new SqliteMeasurement(shape, path, "", WalCheckpointPolicy.Default, cancellationToken);
        var inline = baseline ? new SqliteMeasurement(shape, path, "sqlite, checkpoints inside commits (baseline): ", WalCheckpointPolicy.InsideCommits, cancellationToken) : null;
        var halves = baseline ? 2 : 1;
        for (var half = 0; half < halves; half++)
        {
            var share = rounds / halves + (half == 0 ? 20 : 0);
            if (inline is not null)
            {
                await inline.RunAsync(share);
            }

            await measured.RunAsync(share);
        }

        measured.Report(result);
        inline?.Report(result);
        if (backup)
        {
            using var sqlite = SqliteReleaseStore.Open(path);
            await BackupAndRestoreAsync(sqlite, () => SqliteReleaseStore.Open(scratch.Combine("restored.db")), scratch, result, "", cancellationToken);
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
        var recorder = NewRecorder(wal: null);
        var workload = new StoreWorkload(store, shape, recorder, cancellationToken);
        for (var round = 0; round < rounds + 20; round++)
        {
            await workload.RunRoundAsync();
        }

        Report(recorder, workload, result, label);
    }

    /// <summary>
    /// A recorder that also tags each call with what can make one call slow that is not its query: a checkpoint of
    /// SQLite's WAL during it, or a collection in this process (gen0 and gen1 counted together; a gen2 one counts in both).
    /// </summary>
    private static LatencyRecorder NewRecorder(SqliteWalObserver? wal)
    {
        var recorder = new LatencyRecorder(warmupCalls: 20);
        if (wal is not null)
        {
            recorder.Watch("checkpoint", wal.Read);
        }

        recorder.Watch("gen0/1 GC", () => GC.CollectionCount(0));
        recorder.Watch("gen2 GC", () => GC.CollectionCount(2));
        return recorder;
    }

    private static void Report(LatencyRecorder recorder, StoreWorkload workload, ScenarioResult result, string label)
    {
        foreach (var operation in recorder.Operations)
        {
            var samples = recorder.Samples(operation);
            result.Add(label + operation + " p50", Statistics.Percentile(samples, 50), "ms");
            result.AddAtMost(label + operation + " p99", Statistics.Percentile(samples, 99), "ms", 5);
            var quiet = recorder.SamplesWithoutEvents(operation);
            if (quiet.Count != samples.Count)
            {
                result.Add(label + operation + " p99 of calls without a checkpoint or GC", Statistics.Percentile(quiet, 99), "ms");
            }

            foreach (var name in recorder.Events)
            {
                var with = recorder.SamplesWith(operation, name);
                if (with.Count > 0)
                {
                    result.Add(label + operation + $" calls with a {name}", with.Count, "calls");
                    result.Add(label + operation + $" median of calls with a {name}", Statistics.Median(with), "ms");
                }
            }
        }

        result.Add(label + "writes in the workload", workload.Writes / workload.WriteTime.TotalSeconds, "writes/s");
    }

    /// <summary>
    /// The workload on the SQLite file under one checkpoint policy, in parts: each part opens the store afresh with
    /// that policy (its pooled handles carry the policy's settings) and closes it after, and the WAL is watched throughout.
    /// </summary>
    private sealed class SqliteMeasurement
    {
        private readonly string _path;
        private readonly string _label;
        private readonly WalCheckpointPolicy _policy;
        private readonly SqliteWalObserver _wal;
        private readonly LatencyRecorder _recorder;
        private readonly StoreWorkload _workload;
        private long _checkpoints;
        private long _pages;

        public SqliteMeasurement(StoreShape shape, string path, string label, WalCheckpointPolicy policy, CancellationToken cancellationToken)
        {
            _path = path;
            _label = label;
            _policy = policy;
            _wal = new SqliteWalObserver(path);
            _recorder = NewRecorder(_wal);
            _workload = new StoreWorkload(null!, shape, _recorder, cancellationToken);
        }

        public async Task RunAsync(int rounds)
        {
            using var store = SqliteReleaseStore.Open(_path, () => DateTimeOffset.UtcNow, _policy);
            _workload.UseStore(store);
            var checkpoints = _wal.Read();
            var pages = _wal.PagesCheckpointed;
            for (var round = 0; round < rounds; round++)
            {
                await _workload.RunRoundAsync();
            }

            _checkpoints += _wal.Read() - checkpoints;
            _pages += _wal.PagesCheckpointed - pages;
        }

        public void Report(ScenarioResult result)
        {
            StoreScaleScenario.Report(_recorder, _workload, result, _label);
            var label = _label.Length == 0 ? "sqlite: " : _label;
            result.Add(label + "WAL checkpoints during the workload", _checkpoints, "checkpoints");
            result.Add(label + "WAL checkpoints per 1000 writes", _checkpoints * 1000.0 / _workload.Writes, "checkpoints");
            result.Add(label + "WAL pages copied by those checkpoints", _pages, "pages");
            result.Add(label + "most frames in the WAL", _wal.LargestWalFrames, "pages");
            result.Add(label + "largest -wal file", Statistics.MiB(_wal.LargestWalBytes), "MiB");
        }
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
