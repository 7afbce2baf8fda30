using System.Diagnostics;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;
using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Scenarios;

/// <summary>
/// The agent's cold path: one freshly started published agent receives ten deployments in a row, each a package with
/// new bytes, and the agent's CPU is read from /proc around each one. The first push after start must not cost more
/// per byte than the tenth. It runs once with the published runtime settings and once with tiered compilation turned
/// back on (DOTNET_TieredCompilation=1), which is what the agent ran before, so the setting's effect is measured.
/// </summary>
public static class AgentWarmUpScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var packageMiB = options.GetInt("warmup-package-mib", 64);
        var pushes = options.GetInt("warmup-pushes", 10);
        var result = new ScenarioResult("agent-warmup", $"{pushes} deployments of {packageMiB} MiB in a row to one fresh published agent process");
        result.Parameters["packageMiB"] = packageMiB.ToString();
        result.Parameters["pushes"] = pushes.ToString();
        result.Parameters["agentEnvironment"] = options.Get("warmup-agent-env") ?? "DOTNET_TieredCompilation=1";

        await using var world = new BenchWorld("agent-warmup");
        var agentDirectory = await PublishedBuilds.GetAgentAsync(options, world, cancellationToken);
        // --warmup-agent-env "NAME=VALUE;..." measures another runtime setting against the published one instead.
        var otherEnvironment = options.Get("warmup-agent-env");
        var variants = new (string Name, IReadOnlyDictionary<string, string> Environment)[]
        {
            ("published settings", new Dictionary<string, string>()),
            otherEnvironment == null
                ? ("tiered compilation on", new Dictionary<string, string> { ["DOTNET_TieredCompilation"] = "1" })
                : ($"with {otherEnvironment}", PublishedBuilds.ParseEnvironment(otherEnvironment)),
        };
        var seed = 5000;
        foreach (var (name, environment) in variants)
        {
            await using var agent = await AgentProcess.StartPublishedAsync(agentDirectory, world.Scratch.CreateDirectory($"agent-{seed}"), [world.Keys.PublicKeyPath],
                environment, cancellationToken);
            var service = $"warm{seed}";
            await world.Store.RegisterInstancesAsync([new InstanceRegistration { InstanceId = service, Service = service, Environment = "bench", Host = "127.0.0.1", Port = agent.Port }],
                cancellationToken);
            var cpuPerGiB = new List<double>();
            for (var push = 1; push <= pushes; push++)
            {
                var package = world.WritePackage($"warm-{seed}-{push}.bin", packageMiB * 1024L * 1024L, seed * 100 + push);
                try
                {
                    var before = ProcessCpu.Seconds(agent.ProcessId);
                    var clock = Stopwatch.StartNew();
                    var summary = await world.Engine.DeployAsync(new DeploymentRequest
                    {
                        InstanceIds = [service],
                        Version = $"1.0.{push}",
                        PackageUrl = package,
                        AllowLocalPackage = true,
                        Config = new ConfigSource { ReadyFilePath = world.ConfigPath },
                        Settings = world.Settings(1),
                    }, new ResultCollector(), cancellationToken);
                    clock.Stop();
                    if (summary.Succeeded != 1)
                    {
                        throw new InvalidOperationException($"Push {push} failed: {summary.Results.FirstOrDefault(r => r.Error != null)?.Error}");
                    }

                    cpuPerGiB.Add((ProcessCpu.Seconds(agent.ProcessId) - before) / (packageMiB / 1024.0));
                }
                finally
                {
                    BenchWorld.TryDelete(package);
                }
            }

            result.Add($"{name}: agent CPU per GiB, push 1", cpuPerGiB[0], "CPU-s/GiB");
            result.Add($"{name}: agent CPU per GiB, push 2", cpuPerGiB[1], "CPU-s/GiB");
            result.Add($"{name}: agent CPU per GiB, push {pushes}", cpuPerGiB[^1], "CPU-s/GiB");
            result.Add($"{name}: agent CPU per GiB, median of pushes 2-{pushes}", Statistics.Median(cpuPerGiB.Skip(1).ToList()), "CPU-s/GiB");
            var ratio = cpuPerGiB[0] / cpuPerGiB[^1];
            if (name == variants[0].Name)
            {
                // 1.1, not 1.0: /proc counts CPU in 10 ms ticks and one push of 64 MiB costs a few hundred of them.
                result.AddAtMost($"{name}: push 1 / push {pushes} CPU per byte", ratio, "x", 1.1);
            }
            else
            {
                result.Add($"{name}: push 1 / push {pushes} CPU per byte", ratio, "x");
            }

            result.Add($"{name}: agent peak resident set after {pushes} pushes", ProcessCpu.PeakResidentMiB(agent.ProcessId), "MiB");
            seed++;
        }

        result.Notes.Add("Agent CPU per push covers the whole deployment as the agent sees it: ping, package, config, activation (a single-file package installed as it is) and verify.");
        return result;
    }
}
