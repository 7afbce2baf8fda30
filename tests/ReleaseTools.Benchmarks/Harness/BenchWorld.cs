using Microsoft.Extensions.Logging;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;
using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>What every scenario needs: a scratch folder, a signing key the agents trust, a store and an engine.</summary>
public sealed class BenchWorld : IAsyncDisposable
{
    private readonly List<RunningFloydAgent> _agents = [];

    public BenchWorld(string name)
    {
        Scratch = new TempDirectory($"rt-bench-{name}");
        Keys = TestKeys.Create(Scratch.CreateDirectory("keys"));
        Store = SqliteReleaseStore.Open(Scratch.Combine("store.db"));
        Engine = new DeploymentEngine(Store, new EngineOptions { PackageCacheDirectory = Scratch.CreateDirectory("cache") });
        ConfigPath = Scratch.WriteFile("app.config", "listen=8080\nlog=info\n");
    }

    public TempDirectory Scratch { get; }
    public TestKeys Keys { get; }
    public SqliteReleaseStore Store { get; }
    public DeploymentEngine Engine { get; }
    public string ConfigPath { get; }
    public IReadOnlyList<RunningFloydAgent> Agents => _agents;

    /// <summary>Starts reference agents in this process (quiet logs), each with its own data folder.</summary>
    public async Task<IReadOnlyList<RunningFloydAgent>> StartAgentsAsync(int count, string prefix)
    {
        var started = await Task.WhenAll(Enumerable.Range(0, count).Select(i => FloydAgentHost.StartAsync(new FloydAgentOptions
        {
            DataDirectory = Scratch.CreateDirectory($"{prefix}-{i:D3}"),
            AuthorizedKeyPems = [Keys.PublicKeyPem],
            MinimumLogLevel = LogLevel.Warning,
        })));
        _agents.AddRange(started);
        return started;
    }

    public async Task StopAgentsAsync(IEnumerable<RunningFloydAgent> agents)
    {
        foreach (var agent in agents.ToList())
        {
            await agent.DisposeAsync();
            _agents.Remove(agent);
            TryDelete(agent.DataDirectory);
        }
    }

    public RunSettings Settings(int throttle) => new()
    {
        ThrottleLimit = throttle,
        PrivateKeyPath = Keys.Pkcs8PrivateKeyPath,
        RetryPolicy = new RetryPolicy { MaxAttempts = 1 },
    };

    /// <summary>Writes a file of pseudo-random bytes; the seed makes each package's MD5 distinct.</summary>
    public string WritePackage(string name, long bytes, int seed)
    {
        var path = Scratch.Combine(name);
        var random = new Random(seed);
        var buffer = new byte[1024 * 1024];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, buffer.Length);
        for (long written = 0; written < bytes; written += buffer.Length)
        {
            random.NextBytes(buffer);
            file.Write(buffer, 0, (int)Math.Min(buffer.Length, bytes - written));
        }

        return path;
    }

    public static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
        catch (IOException)
        {
            // Scratch space only; the whole folder goes when the world is disposed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            await agent.DisposeAsync();
        }

        Engine.Dispose();
        Store.Dispose();
        Keys.Dispose();
        Scratch.Dispose();
    }
}

/// <summary>Collects the per-instance results of a run (thread-safe: the engine calls from worker threads).</summary>
public sealed class ResultCollector : IDeploymentObserver
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<TargetResult> _results = new();

    public IReadOnlyCollection<TargetResult> Results => _results;

    public void OnEvent(DeploymentEvent deploymentEvent)
    {
        if (deploymentEvent is InstanceCompleted completed)
        {
            _results.Enqueue(completed.Result);
        }
    }
}
