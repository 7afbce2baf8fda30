using System.Diagnostics;
using System.Text.Json;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;
using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Scenarios;

/// <summary>
/// Memory: the client deploys a large package to a few agents, and its peak working set and managed allocations are
/// measured in a process of its own (the agents run as their own processes too), once with a small package and once
/// with a large one. The figures must not grow with package size.
/// </summary>
public static class MemoryScenario
{
    private const string ChildScenario = "memory-child";

    public static async Task<ScenarioResult> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var smallMiB = options.GetInt("memory-small-mib", 64);
        var largeMiB = options.GetInt("memory-package-mib", 1024);
        var agentCount = options.GetInt("memory-agents", 4);
        var result = new ScenarioResult("memory", $"client peak working set and allocations deploying {smallMiB} MiB and {largeMiB} MiB packages to {agentCount} agent processes");
        result.Parameters["smallMiB"] = smallMiB.ToString();
        result.Parameters["largeMiB"] = largeMiB.ToString();
        result.Parameters["agents"] = agentCount.ToString();

        await using var world = new BenchWorld("memory");
        var measurements = new List<ChildMeasurement>();
        var agentPeaks = new List<double>();
        var seed = 100;
        foreach (var packageMiB in new[] { smallMiB, largeMiB })
        {
            var agents = new List<AgentProcess>();
            var package = world.WritePackage($"memory-{packageMiB}.bin", packageMiB * 1024L * 1024L, seed++);
            try
            {
                for (var i = 0; i < agentCount; i++)
                {
                    agents.Add(await AgentProcess.StartAsync(world.Scratch.CreateDirectory($"agent-{packageMiB}-{i}"), [world.Keys.PublicKeyPath], cancellationToken: cancellationToken));
                }

                var service = $"mem{packageMiB}";
                var ids = agents.Select((a, i) => $"{service}-{i}").ToList();
                await world.Store.RegisterInstancesAsync(agents.Select((agent, i) => new InstanceRegistration
                {
                    InstanceId = ids[i], Service = service, Environment = "bench", Host = "127.0.0.1", Port = agent.Port,
                }).ToList(), cancellationToken);
                measurements.Add(await RunChildAsync(world, package, ids, cancellationToken));
                agentPeaks.Add(agents.Max(a => ProcessCpu.PeakResidentMiB(a.ProcessId)));
            }
            finally
            {
                foreach (var agent in agents)
                {
                    await agent.DisposeAsync();
                    BenchWorld.TryDelete(agent.DataDirectory);
                }

                BenchWorld.TryDelete(package);
            }
        }

        var small = measurements[0];
        var large = measurements[1];
        result.Add($"{smallMiB} MiB: client peak working set", small.PeakWorkingSetMiB, "MiB");
        result.Add($"{smallMiB} MiB: managed allocations", small.AllocatedMiB, "MiB");
        result.Add($"{smallMiB} MiB: wall time", small.Seconds, "s");
        result.AddAtMost($"{largeMiB} MiB: client peak working set", large.PeakWorkingSetMiB, "MiB", 200);
        result.Add($"{largeMiB} MiB: managed allocations", large.AllocatedMiB, "MiB");
        result.Add($"{largeMiB} MiB: wall time", large.Seconds, "s");
        result.Add("peak working set growth large/small", large.PeakWorkingSetMiB / small.PeakWorkingSetMiB, "x");
        result.Add($"{smallMiB} MiB: largest agent peak resident set", agentPeaks[0], "MiB");
        result.Add($"{largeMiB} MiB: largest agent peak resident set", agentPeaks[1], "MiB");
        result.Add("agent peak resident set growth large/small", agentPeaks[1] / agentPeaks[0], "x");
        result.Notes.Add("The client runs in its own process (dotnet ReleaseTools.Benchmarks.dll memory-child); peak working set is the OS high-water mark of that process.");
        return result;
    }

    private static async Task<ChildMeasurement> RunChildAsync(BenchWorld world, string package, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        return await ChildProcessMeasurement.RunAsync<ChildMeasurement>("memory measurement process",
        [
            typeof(MemoryScenario).Assembly.Location, ChildScenario,
            "--store", world.Store.Location, "--key", world.Keys.Pkcs8PrivateKeyPath, "--package", package,
            "--config", world.ConfigPath, "--cache", world.Scratch.CreateDirectory($"child-cache-{Guid.NewGuid():N}"),
            "--instances", string.Join(',', ids),
        ], TimeSpan.FromMinutes(10), cancellationToken);
    }

    /// <summary>Runs inside the child process: one deployment, then prints its own memory figures as JSON.</summary>
    public static async Task<int> RunChildAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        using var store = SqliteReleaseStore.Open(options.GetRequired("store"));
        using var engine = new DeploymentEngine(store, new EngineOptions { PackageCacheDirectory = options.GetRequired("cache") });
        var stopwatch = Stopwatch.StartNew();
        var summary = await engine.DeployAsync(new DeploymentRequest
        {
            InstanceIds = options.GetRequired("instances").Split(','),
            Version = "1.0.0",
            PackageUrl = options.GetRequired("package"),
            AllowLocalPackage = true,
            Config = new ConfigSource { ReadyFilePath = options.GetRequired("config") },
            Settings = new RunSettings { PrivateKeyPath = options.GetRequired("key"), ThrottleLimit = 8 },
        }, new ResultCollector(), cancellationToken);
        stopwatch.Stop();
        if (summary.Status != DeploymentStatus.Succeeded)
        {
            await Console.Error.WriteLineAsync($"Deployment {summary.Status}: {summary.Results.FirstOrDefault(r => r.Error != null)?.Error}");
            return 1;
        }

        using var self = Process.GetCurrentProcess();
        self.Refresh();
        Console.WriteLine(JsonSerializer.Serialize(new ChildMeasurement(
            Statistics.MiB(self.PeakWorkingSet64),
            Statistics.MiB(GC.GetTotalAllocatedBytes(precise: true)),
            stopwatch.Elapsed.TotalSeconds)));
        return 0;
    }

    private sealed record ChildMeasurement(double PeakWorkingSetMiB, double AllocatedMiB, double Seconds);
}
