using System.Diagnostics;
using ReleaseTools.Benchmarks.Baseline;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;
using ReleaseTools.Benchmarks.Sink;

namespace ReleaseTools.Benchmarks.Scenarios;

/// <summary>
/// Fan-out: one package deployed to many agents on loopback, against the same bytes POSTed by a plain HttpClient to
/// the same number of raw sinks that only write the body to disk. Each repetition uses fresh agents and a package
/// with new bytes, so every agent really needs the transfer.
/// </summary>
public static class FanOutScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var packageMiB = options.GetInt("fanout-package-mib", 64);
        var agentCount = options.GetInt("fanout-agents", 32);
        var throttles = options.GetIntList("fanout-throttles", 8, 32);
        var repetitions = options.GetInt("fanout-repetitions", 3);
        var result = new ScenarioResult("fanout", $"{packageMiB} MiB package to {agentCount} agents on loopback vs raw HTTP POST to {agentCount} disk sinks");
        result.Parameters["packageMiB"] = packageMiB.ToString();
        result.Parameters["agents"] = agentCount.ToString();
        result.Parameters["repetitions"] = repetitions.ToString();

        await using var world = new BenchWorld("fanout");
        var packageBytes = packageMiB * 1024L * 1024L;
        var totalMiB = (double)packageMiB * agentCount;
        var seed = 1;

        foreach (var throttle in throttles)
        {
            var baselineTimes = new List<double>();
            var releaseToolsTimes = new List<double>();
            for (var repetition = 0; repetition < repetitions; repetition++)
            {
                var package = world.WritePackage($"fanout-{seed}.bin", packageBytes, seed);

                // Baseline: the same bytes, the same number of endpoints, the same window, no protocol.
                var sinks = await Task.WhenAll(Enumerable.Range(0, agentCount).Select(i => RawSinkServer.StartAsync(world.Scratch.Combine($"sink-{seed}-{i:D3}"))));
                try
                {
                    baselineTimes.Add((await RawFanOut.RunAsync(package, sinks, throttle, cancellationToken)).TotalSeconds);
                }
                finally
                {
                    foreach (var sink in sinks)
                    {
                        await sink.DisposeAsync();
                        BenchWorld.TryDelete(sink.DataDirectory);
                    }
                }

                // ReleaseTools: register fresh agents as instances and deploy through the engine.
                var agents = await world.StartAgentsAsync(agentCount, $"agent-{seed}");
                try
                {
                    var service = $"fanout{seed}";
                    var ids = new List<string>();
                    await world.Store.RegisterInstancesAsync(agents.Select((agent, i) =>
                    {
                        var id = $"{service}-{i:D3}";
                        ids.Add(id);
                        return new InstanceRegistration { InstanceId = id, Service = service, Environment = "bench", Host = "127.0.0.1", Port = agent.Port };
                    }).ToList(), cancellationToken);
                    var request = new DeploymentRequest
                    {
                        InstanceIds = ids,
                        Version = $"1.0.{seed}",
                        PackageUrl = package,
                        AllowLocalPackage = true,
                        Config = new ConfigSource { ReadyFilePath = world.ConfigPath },
                        Settings = world.Settings(throttle),
                    };
                    var stopwatch = Stopwatch.StartNew();
                    var summary = await world.Engine.DeployAsync(request, new ResultCollector(), cancellationToken);
                    stopwatch.Stop();
                    if (summary.Succeeded != agentCount)
                    {
                        throw new InvalidOperationException($"Fan-out deployment did not succeed everywhere: {summary.Status}, {summary.Succeeded}/{agentCount} succeeded; first error: {summary.Results.FirstOrDefault(r => r.Error != null)?.Error}");
                    }

                    releaseToolsTimes.Add(stopwatch.Elapsed.TotalSeconds);
                }
                finally
                {
                    await world.StopAgentsAsync(agents);
                    BenchWorld.TryDelete(package);
                }

                seed++;
            }

            var baseline = Statistics.Median(baselineTimes);
            var releaseTools = Statistics.Median(releaseToolsTimes);
            var ratio = releaseTools / baseline;
            result.Add($"throttle {throttle}: baseline wall time (median)", baseline, "s");
            result.Add($"throttle {throttle}: ReleaseTools wall time (median)", releaseTools, "s");
            result.Add($"throttle {throttle}: baseline throughput", totalMiB / baseline, "MiB/s");
            result.Add($"throttle {throttle}: ReleaseTools throughput", totalMiB / releaseTools, "MiB/s");
            if (throttle == 32)
            {
                result.AddAtMost($"throttle {throttle}: ReleaseTools/baseline ratio", ratio, "x", 1.3);
            }
            else
            {
                result.Add($"throttle {throttle}: ReleaseTools/baseline ratio", ratio, "x");
            }
        }

        result.Notes.Add("ReleaseTools time includes reading and hashing the local package once, one ping, package, config, activate and verify per instance; the baseline only POSTs the file.");
        return result;
    }
}
