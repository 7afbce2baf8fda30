using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;
using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Scenarios;

/// <summary>
/// Cold start: a fresh process hosts PowerShell, imports the built module from its folder and runs the first
/// Get-ServiceInstance. Baseline in the same run: the same process importing nothing but opening a runspace.
/// </summary>
public static class ColdStartScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var runs = options.GetInt("coldstart-runs", 5);
        var result = new ScenarioResult("coldstart", "fresh process: Import-Module ReleaseTools + first Get-ServiceInstance");
        result.Parameters["runs"] = runs.ToString();

        using var scratch = new TempDirectory("rt-bench-coldstart");
        var storePath = scratch.Combine("store.db");
        using (var store = SqliteReleaseStore.Open(storePath))
        {
            await store.RegisterInstancesAsync(Enumerable.Range(0, 100).Select(i => new InstanceRegistration
            {
                InstanceId = $"web-{i:D3}", Service = "web", Environment = "prod", Host = "127.0.0.1", Port = 7000 + i,
            }).ToList(), cancellationToken);
        }

        var samples = new List<ProbeResult>();
        for (var run = 0; run < runs; run++)
        {
            samples.Add(await RunProbeAsync(storePath, cancellationToken));
        }

        if (samples.Any(s => s.InstancesReturned != 100))
        {
            throw new InvalidOperationException($"The first query returned {samples.First(s => s.InstancesReturned != 100).InstancesReturned} instances instead of 100.");
        }

        result.Add("runspace open (median)", Statistics.Median(samples.Select(s => s.RunspaceOpenMs).ToList()), "ms");
        result.Add("Import-Module (median)", Statistics.Median(samples.Select(s => s.ImportModuleMs).ToList()), "ms");
        result.Add("first Get-ServiceInstance (median)", Statistics.Median(samples.Select(s => s.FirstQueryMs).ToList()), "ms");
        result.AddAtMost("import + first query (median)", Statistics.Median(samples.Select(s => s.ImportPlusFirstQueryMs).ToList()), "ms", 1000);
        result.Add("import + first query (worst)", samples.Max(s => s.ImportPlusFirstQueryMs), "ms");
        result.Notes.Add("Measured inside the probe process after the runspace is open; the runspace itself is PowerShell's own cost, listed apart.");
        return result;
    }

    private static async Task<ProbeResult> RunProbeAsync(string storePath, CancellationToken cancellationToken)
    {
        return await ChildProcessMeasurement.RunAsync<ProbeResult>("cold-start probe",
            [ProbeAssembly(), "--module-dir", TestPaths.ModuleDirectory, "--store", storePath, "--service", "web"],
            TimeSpan.FromMinutes(2), cancellationToken);
    }

    private static string ProbeAssembly() =>
        typeof(ColdStartScenario).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "ColdStartProbeAssemblyPath").Value!;

    private sealed record ProbeResult(double RunspaceOpenMs, double ImportModuleMs, double FirstQueryMs, double ImportPlusFirstQueryMs, int InstancesReturned);
}
