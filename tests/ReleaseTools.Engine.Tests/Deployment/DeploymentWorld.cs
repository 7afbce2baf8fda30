using System.Security.Cryptography;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;
using ReleaseTools.Engine.Tests.Packages;
using ReleaseTools.Testing;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>One instance in a test world: its id, its real Floyd agent on loopback, and the probe in front of it.</summary>
public sealed class TestInstance
{
    public required string InstanceId { get; init; }
    public required string Service { get; init; }
    public required string Environment { get; init; }
    public required AgentProbe Probe { get; init; }
    public RunningFloydAgent? Agent { get; set; }
    public required FloydEndpoint Endpoint { get; init; }
}

/// <summary>
/// Everything a deployment integration test needs, all real: a fresh RSA key on disk, a SQLite store file, a package
/// server on loopback, and one in-process Floyd agent per instance on an ephemeral port, registered in the store.
/// </summary>
public sealed class DeploymentWorld : IAsyncDisposable
{
    public const string Service = "orders";
    public const string Environment = "prod";
    private const int PackageBytes = 64 * 1024;

    private DeploymentWorld(TempDirectory temp, TestKeys keys, SqliteReleaseStore store, PackageServer packages, FloydClient statusClient)
    {
        Temp = temp;
        Keys = keys;
        Store = store;
        Packages = packages;
        StatusClient = statusClient;
        ConfigTemplate = temp.WriteFile("app.conf.template", "service={{Service}}\nenvironment={{Environment}}\nversion={{Version}}\nlogLevel={{LogLevel}}\n");
        Engine = NewEngine();
    }

    public TempDirectory Temp { get; }
    public TestKeys Keys { get; }
    public SqliteReleaseStore Store { get; }
    public PackageServer Packages { get; }
    public DeploymentEngine Engine { get; private set; }
    public ConcurrencyGauge Gauge { get; } = new();
    public List<TestInstance> Instances { get; } = new();
    public string ConfigTemplate { get; }
    public string CacheDirectory => Temp.Combine("package-cache");
    private FloydClient StatusClient { get; }

    public IReadOnlyList<string> Ids => Instances.Select(i => i.InstanceId).ToList();

    public static async Task<DeploymentWorld> CreateAsync(int instanceCount)
    {
        var temp = new TempDirectory("rt-engine");
        var keys = TestKeys.Create(temp.Combine("keys"));
        SqliteRuntime.EnsureInitialized();
        var store = SqliteReleaseStore.Open(temp.Combine("store", "releasetools.db"));
        var packages = await PackageServer.StartAsync();
        var world = new DeploymentWorld(temp, keys, store, packages, FloydClient.Create(keys.Rsa, new FloydClientOptions()));
        await world.AddInstancesAsync(instanceCount);
        return world;
    }

    public DeploymentEngine NewEngine() => new(Store, new EngineOptions { PackageCacheDirectory = CacheDirectory, LeaseDuration = TimeSpan.FromSeconds(30) });

    public async Task AddInstancesAsync(int count, string environment = Environment)
    {
        var start = Instances.Count;
        var created = await Task.WhenAll(Enumerable.Range(start, count).Select(async index =>
        {
            var probe = new AgentProbe(Gauge);
            var agent = await StartAgentAsync(index, probe);
            // The probe counts what the client sends; the agent's own start-up health check is not part of it.
            probe.ResetCounts();
            return new TestInstance
            {
                InstanceId = $"i{index + 1:00}",
                Service = Service,
                Environment = environment,
                Probe = probe,
                Agent = agent,
                Endpoint = new FloydEndpoint { InstanceId = $"i{index + 1:00}", Host = "127.0.0.1", Port = agent.Port },
            };
        }));

        // Nor are the start-up checks of agents started together part of the client's concurrency.
        Gauge.Reset();
        Instances.AddRange(created);
        await Store.RegisterInstancesAsync(created.Select(i => new InstanceRegistration
        {
            InstanceId = i.InstanceId,
            Service = i.Service,
            Environment = i.Environment,
            Host = "127.0.0.1",
            Port = i.Endpoint.Port,
        }).ToList(), CancellationToken.None);
    }

    private Task<RunningFloydAgent> StartAgentAsync(int index, AgentProbe probe) =>
        FloydAgentHost.StartAsync(new FloydAgentOptions
        {
            DataDirectory = Temp.Combine("agents", $"agent{index + 1:00}"),
            AuthorizedKeyPems = new[] { Keys.PublicKeyPem },
            MinimumLogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
            // Agents hosted in the test process: the first one compiles what the rest use, so a rehearsal would only
            // cost time. Agent processes, as operators run them, rehearse (StartupRehearsalTests).
            RehearseOnStart = false,
        }, probe.Install);

    /// <summary>Stops an instance's agent: its port then refuses connections, as a dead host would.</summary>
    public async Task StopAgentAsync(TestInstance instance)
    {
        if (instance.Agent != null)
        {
            await instance.Agent.DisposeAsync();
            instance.Agent = null;
        }
    }

    public string PackageUrl(string version)
    {
        return Packages.Add(PackagePath(version), PackageContent(version));
    }

    public static byte[] PackageContent(string version) => PackageServer.RandomBytes(PackageBytes, version.GetHashCode(StringComparison.Ordinal));

    public static string PackagePath(string version) => $"packages/{Service}/{version}/{Service}-{version}.bin";

    public RunSettings Settings(int throttle = 4, int? batchSize = null, FailurePolicy? policy = null) => new()
    {
        ThrottleLimit = throttle,
        Batches = new BatchLayout { BatchSize = batchSize },
        FailurePolicy = policy ?? new FailurePolicy(),
        RetryPolicy = new RetryPolicy { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(10) },
        PrivateKeyPath = Keys.Pkcs8PrivateKeyPath,
        InitiatedBy = "engine-tests",
    };

    public DeploymentRequest Request(string version, RunSettings settings, IEnumerable<TestInstance>? instances = null, string? checksum = null) => new()
    {
        InstanceIds = (instances ?? Instances).Select(i => i.InstanceId).ToList(),
        Version = version,
        PackageUrl = PackageUrl(version),
        Checksum = checksum,
        Config = new ConfigSource { TemplatePath = ConfigTemplate, Values = new Dictionary<string, string> { ["LogLevel"] = "info" } },
        Settings = settings,
    };

    public Task<DeploymentSummary> DeployAsync(string version, RunSettings? settings = null, IEnumerable<TestInstance>? instances = null, EventLog? log = null) =>
        Engine.DeployAsync(Request(version, settings ?? Settings(), instances), log ?? new EventLog(), CancellationToken.None);

    /// <summary>What the agent itself says is active for the service (not what the store believes).</summary>
    public async Task<string?> ActiveVersionAsync(TestInstance instance)
    {
        var status = await StatusClient.GetStatusAsync(instance.Endpoint, CancellationToken.None);
        return status.Services.FirstOrDefault(s => s.Service == Service)?.ActiveVersion;
    }

    /// <summary>Fails with every instance's error in the message, so a broken run explains itself.</summary>
    public static void AssertStatus(DeploymentStatus expected, DeploymentSummary summary)
    {
        if (summary.Status != expected)
        {
            throw new Xunit.Sdk.XunitException($"Expected {expected} but the run ended {summary.Status}:\n" +
                string.Join("\n", summary.Results.Select(r => $"{r.InstanceId} batch {r.Batch}: {r.Status} {r.ErrorId} {r.Error}")));
        }
    }

    public void ResetCounts()
    {
        foreach (var instance in Instances)
        {
            instance.Probe.ResetCounts();
        }

        Gauge.Reset();
    }

    public async ValueTask DisposeAsync()
    {
        Engine.Dispose();
        StatusClient.Dispose();
        await Task.WhenAll(Instances.Select(StopAgentAsync));
        await Packages.DisposeAsync();
        Store.Dispose();
        Keys.Dispose();
        Temp.Dispose();
    }
}
