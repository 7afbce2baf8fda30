using System.Diagnostics;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Benchmarks.Scenarios;

/// <summary>
/// No-op redeploy: every instance already runs the target release, so the whole run is one ping per instance and no
/// package bytes may move. Baseline in the same run: one plain GET /health per instance with the same window, the
/// cheapest round trip an agent can answer.
/// </summary>
public static class NoOpRedeployScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var instanceCount = options.GetInt("noop-instances", 1000);
        var agentCount = options.GetInt("noop-agents", 20);
        var throttle = options.GetInt("noop-throttle", 32);
        var result = new ScenarioResult("noop", $"redeploy of the current release to {instanceCount} instances over {agentCount} agents, throttle {throttle}");
        result.Parameters["instances"] = instanceCount.ToString();
        result.Parameters["agents"] = agentCount.ToString();
        result.Parameters["throttle"] = throttle.ToString();

        await using var world = new BenchWorld("noop");
        var agents = await world.StartAgentsAsync(agentCount, "agent");
        // An agent serves many services; each instance is one service on one agent.
        var servicesPerAgent = (instanceCount + agentCount - 1) / agentCount;
        var registrations = Enumerable.Range(0, instanceCount).Select(i => new InstanceRegistration
        {
            InstanceId = $"noop-{i:D5}",
            Service = $"svc{i / agentCount % servicesPerAgent:D3}",
            Environment = "bench",
            Host = "127.0.0.1",
            Port = agents[i % agentCount].Port,
        }).ToList();
        await world.Store.RegisterInstancesAsync(registrations, cancellationToken);
        var package = world.WritePackage("noop.bin", 256 * 1024, seed: 7);
        var request = new DeploymentRequest
        {
            InstanceIds = registrations.Select(r => r.InstanceId).ToList(),
            Version = "2.0.0",
            PackageUrl = package,
            AllowLocalPackage = true,
            Config = new ConfigSource { ReadyFilePath = world.ConfigPath },
            Settings = world.Settings(throttle),
        };

        var initial = Stopwatch.StartNew();
        var first = await world.Engine.DeployAsync(request, new ResultCollector(), cancellationToken);
        initial.Stop();
        if (first.Succeeded != instanceCount)
        {
            throw new InvalidOperationException($"Initial deployment failed: {first.Status}, first error: {first.Results.FirstOrDefault(r => r.Error != null)?.Error}");
        }

        var bytesBefore = agents.Sum(a => a.Metrics.BytesReceived.Value);
        var collector = new ResultCollector();
        // The process's CPU around the redeploy: the engine's and the 20 agents' (they run in this process), so it compares
        // between builds measured in the same sitting even when a shared machine makes the wall time noisy.
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var redeploy = Stopwatch.StartNew();
        var second = await world.Engine.DeployAsync(request, collector, cancellationToken);
        redeploy.Stop();
        var redeployCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var bytesDuring = agents.Sum(a => a.Metrics.BytesReceived.Value) - bytesBefore;

        // The same redeploy as a user runs it: pwsh, the built module, Get-ServiceInstance | Invoke-Deployment.
        var bytesBeforeModule = agents.Sum(a => a.Metrics.BytesReceived.Value);
        var throughModule = await ModuleDeployment.RunAsync(world, registrations.Select(r => r.Service).Distinct(), "2.0.0", package, throttle, cancellationToken, twice: true);
        var bytesThroughModule = agents.Sum(a => a.Metrics.BytesReceived.Value) - bytesBeforeModule;

        var baseline = await HealthRoundTripsAsync(registrations, throttle, cancellationToken);
        var durations = collector.Results.Select(r => r.Duration.TotalMilliseconds).ToList();

        result.Add("initial deployment (setup)", initial.Elapsed.TotalSeconds, "s");
        result.AddAtMost("no-op redeploy wall time", redeploy.Elapsed.TotalSeconds, "s", 2.0);
        result.Add("no-op redeploy CPU of the process (engine and its agents)", redeployCpu.TotalSeconds, "CPU-s");
        result.Add("per-instance p50", Statistics.Percentile(durations, 50), "ms");
        result.Add("per-instance p99", Statistics.Percentile(durations, 99), "ms");
        result.Add("instances reported Unchanged", second.Unchanged, "count", $"= {instanceCount}", second.Unchanged == instanceCount);
        result.Add("package bytes sent", second.PackageBytesSent, "bytes", "= 0", second.PackageBytesSent == 0);
        result.Add("bytes received by agents during redeploy", bytesDuring, "bytes");
        result.AddAtMost("through the module (pwsh): no-op redeploy wall time, first pipeline of a fresh process", throughModule.Seconds, "s", 1.0);
        result.Add("through the module (pwsh): the same pipeline again in that session", throughModule.SecondSeconds ?? double.NaN, "s");
        result.Add("through the module (pwsh): client CPU of the second pipeline", throughModule.SecondCpuSeconds ?? double.NaN, "CPU-s");
        result.Add("through the module (pwsh): client CPU of the first pipeline", throughModule.CpuSeconds, "CPU-s");
        result.Add("through the module (pwsh): instances reported Unchanged", throughModule.Unchanged, "count", $"= {instanceCount}", throughModule.Unchanged == instanceCount && throughModule.SecondUnchanged == instanceCount);
        result.Add("through the module (pwsh): bytes received by agents", bytesThroughModule, "bytes");
        result.Add("baseline: plain GET /health round trips", baseline.TotalSeconds, "s");
        result.Add("no-op redeploy / baseline ratio", redeploy.Elapsed.TotalSeconds / baseline.TotalSeconds, "x");
        return result;
    }

    private static async Task<TimeSpan> HealthRoundTripsAsync(IReadOnlyList<InstanceRegistration> instances, int throttle, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = throttle });
        using var window = new SemaphoreSlim(throttle);
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(instances.Select(async instance =>
        {
            await window.WaitAsync(cancellationToken);
            try
            {
                using var response = await client.GetAsync($"http://127.0.0.1:{instance.Port}/health", cancellationToken);
                response.EnsureSuccessStatusCode();
            }
            finally
            {
                window.Release();
            }
        }));
        return stopwatch.Elapsed;
    }
}
