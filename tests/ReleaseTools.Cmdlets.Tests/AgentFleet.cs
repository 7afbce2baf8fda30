using System.Collections;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// Three real Floyd agents (child processes on loopback ephemeral ports) trusting one freshly generated key, two
/// package versions and a config template, shared by the tests of a class. Each test uses its own store and its
/// own service name, so agent state never leaks from one test into another.
/// </summary>
public sealed class AgentFleet : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("rt-cmdlets");
    private readonly List<AgentProcess> _agents = new();

    public TestKeys Keys { get; private set; } = null!;
    public IReadOnlyList<AgentProcess> Agents => _agents;
    public string PackageV1 { get; private set; } = "";
    public string PackageV2 { get; private set; } = "";
    public string ConfigTemplate { get; private set; } = "";
    public PowerShellSession Shell { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Keys = TestKeys.Create(_directory.CreateDirectory("keys"));
        PackageV1 = _directory.WriteFile("packages/app-1.0.0.bin", RandomNumberGenerator.GetBytes(96 * 1024));
        PackageV2 = _directory.WriteFile("packages/app-2.0.0.bin", RandomNumberGenerator.GetBytes(128 * 1024));
        ConfigTemplate = _directory.WriteFile("app.conf.template", "service={{Service}}\nenvironment={{Environment}}\nversion={{Version}}\nlevel={{Level}}\n");
        var starts = Enumerable.Range(1, 3).Select(i => AgentProcess.StartAsync(_directory.CreateDirectory($"agent-{i}"), new[] { Keys.PublicKeyPath })).ToList();
        _agents.AddRange(await Task.WhenAll(starts));
        Shell = new PowerShellSession();
    }

    /// <summary>A fresh store path for one test.</summary>
    public string NewStorePath() => _directory.Combine("stores", Guid.NewGuid().ToString("N") + ".db");

    /// <summary>A loopback port with nothing listening: an agent that is down.</summary>
    public static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>A loopback port that accepts connections and never answers: an agent that hangs.</summary>
    public static TcpListener SilentListener()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    public static Hashtable Parameters(AgentFleet fleet, string store, int[]? ports) => new()
    {
        ["Store"] = store,
        ["Key"] = fleet.Keys.Pkcs8PrivateKeyPath,
        ["V1"] = fleet.PackageV1,
        ["V2"] = fleet.PackageV2,
        ["Config"] = fleet.ConfigTemplate,
        ["Ports"] = ports ?? fleet._agents.Select(a => a.Port).ToArray(),
    };

    public const string Prologue = "param($Store, $Key, $V1, $V2, $Config, $Ports)\n" +
        "$PSDefaultParameterValues = @{ '*:StorePath' = $Store; '*:PrivateKeyPath' = $Key }\n";

    /// <summary>
    /// Runs a script with $Store, $Key, $V1, $V2, $Config and the agents' $Ports bound, and the store and key set as
    /// default parameter values, as a user's profile would.
    /// </summary>
    public PowerShellResult Invoke(string store, string script, int[]? ports = null)
        => Shell.Invoke(Prologue + script, Parameters(this, store, ports));

    /// <summary>What an agent itself runs for the service, asked directly (a signed ping from a store of its own).</summary>
    public string? AgentVersion(string service, int agent)
    {
        var health = Invoke(NewStorePath(), $"""
            Register-ServiceInstance -InstanceId direct-01 -Service {service} -Environment prod -HostName 127.0.0.1 -Port {_agents[agent].Port}
            Test-ServiceInstance -InstanceId direct-01
            """).ThrowOnError();
        return (string?)Assert.Single(health.Output).Properties["Version"].Value;
    }

    public async Task DisposeAsync()
    {
        Shell?.Dispose();
        foreach (var agent in _agents)
        {
            await agent.DisposeAsync();
        }

        Keys?.Dispose();
        _directory.Dispose();
    }
}
