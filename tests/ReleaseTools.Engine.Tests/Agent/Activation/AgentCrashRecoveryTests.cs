using ReleaseTools.Agent.Activation;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent.Activation;

/// <summary>
/// The real agent process, configured by a YAML file, killed with SIGKILL in the middle of an activation and started
/// again on the same data: the previous release must be active and whole, and the next deployment must work.
/// </summary>
public sealed class AgentCrashRecoveryTests : IAsyncLifetime
{
    private const string Service = "billing";
    private readonly TempDirectory _temp = new("floyd-crash");
    private TestKeys _keys = null!;
    private string _log = "";
    private string _hookStarted = "";
    private string _config = "";

    private string DataDirectory => _temp.Combine("data");
    private string ServiceDirectory => Path.Combine(DataDirectory, "services", Service);

    public Task InitializeAsync()
    {
        _keys = TestKeys.Create(_temp.CreateDirectory("keys"));
        _log = _temp.Combine("hooks.log");
        _hookStarted = _temp.Combine("hook-started");
        // The activate hook of 2.0.0 hangs (after saying so) until the agent is killed; every other one returns.
        _config = _temp.WriteFile("agent.yaml", $$"""
            services:
              {{Service}}:
                hooks:
                  activate:
                    run: 'echo "activate $FLOYD_VERSION revert=$FLOYD_REVERT" >> {{_log}}; if [ "$FLOYD_VERSION" = 2.0.0 ]; then touch {{_hookStarted}}; sleep 60; fi'
                    timeout: 2m
            """);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Killed_during_extraction_the_agent_restarts_on_the_previous_release_and_the_next_deployment_succeeds()
    {
        var v1 = Release("1.0.0", TestArchives.TarGz(_temp.Combine("p", "billing-1.0.0.tar.gz"), ArchiveEntry.Text("VERSION", "1.0.0\n")));
        // Small to send, 192 MiB and 20,000 files to write: extraction takes long enough to be caught in the act, on a
        // fast machine (where 192 MiB alone is written in a fraction of a second) and on a loaded one.
        var v2 = Release("2.0.0", TestArchives.ZeroFilledTarGz(_temp.Combine("p", "billing-2.0.0.tar.gz"), "data.bin", 192L * 1024 * 1024, emptyFilesAfter: 20000));
        var v3 = Release("3.0.0", TestArchives.TarGz(_temp.Combine("p", "billing-3.0.0.tar.gz"), ArchiveEntry.Text("VERSION", "3.0.0\n")));

        var agent = await StartAgentAsync();
        using (var client = Client())
        {
            await v1.PushAndActivateAsync(client, Endpoint(agent));
            var ping = await client.PingAsync(Endpoint(agent), v2.Ping(), CancellationToken.None);
            await client.PushPackageAsync(Endpoint(agent), v2.Package, CancellationToken.None);
            await client.PushConfigAsync(Endpoint(agent), v2.ConfigPush, CancellationToken.None);
            Assert.True(ping.NeedPackage);

            var activation = client.ActivateAsync(Endpoint(agent), v2.Activate, CancellationToken.None);
            var staging = await WaitForAsync(() => Directory.GetDirectories(Path.Combine(ServiceDirectory, "releases"), ".*.partial").FirstOrDefault(), "a release being unpacked");
            agent.Kill();
            await Assert.ThrowsAsync<FloydException>(() => activation);
            Assert.True(Directory.Exists(staging), "the agent was killed after extraction finished; the test did not catch it unpacking");
        }

        await using (agent)
        {
        }

        await using var restarted = await StartAgentAsync();
        using var again = Client();
        AssertPreviousReleaseActiveAndWhole(v1);
        Assert.Equal("1.0.0", (await again.PingAsync(Endpoint(restarted), v1.Ping(), CancellationToken.None)).CurrentVersion);
        Assert.Empty(Directory.GetDirectories(Path.Combine(ServiceDirectory, "releases"), ".*"));

        await v3.PushAndActivateAsync(again, Endpoint(restarted));
        Assert.Equal(v3.ReleaseName, CurrentLink.Read(ServiceDirectory));
        Assert.Equal("3.0.0", (await again.PingAsync(Endpoint(restarted), v3.Ping(), CancellationToken.None)).CurrentVersion);
    }

    [Fact]
    public async Task Killed_during_a_hook_the_agent_restarts_switches_back_and_starts_the_previous_release_again()
    {
        var v1 = Release("1.0.0", TestArchives.Zip(_temp.Combine("p", "billing-1.0.0.zip"), ArchiveEntry.Text("VERSION", "1.0.0\n")));
        var v2 = Release("2.0.0", TestArchives.Zip(_temp.Combine("p", "billing-2.0.0.zip"), ArchiveEntry.Text("VERSION", "2.0.0\n")));
        var v3 = Release("3.0.0", TestArchives.Zip(_temp.Combine("p", "billing-3.0.0.zip"), ArchiveEntry.Text("VERSION", "3.0.0\n")));

        await using (var agent = await StartAgentAsync())
        using (var client = Client())
        {
            await v1.PushAndActivateAsync(client, Endpoint(agent));
            var activation = v2.PushAndActivateAsync(client, Endpoint(agent));
            await WaitForAsync(() => File.Exists(_hookStarted) ? _hookStarted : null, "the activate hook of 2.0.0 to start");
            // The hook runs after the switch: at this moment current points at 2.0.0.
            Assert.Equal(v2.ReleaseName, CurrentLink.Read(ServiceDirectory));
            agent.Kill();
            await Assert.ThrowsAsync<FloydException>(() => activation);
        }

        await using var restarted = await StartAgentAsync();
        using var again = Client();
        AssertPreviousReleaseActiveAndWhole(v1);
        Assert.Equal("1.0.0", (await again.PingAsync(Endpoint(restarted), v1.Ping(), CancellationToken.None)).CurrentVersion);
        Assert.Equal(new[] { "activate 1.0.0 revert=0", "activate 2.0.0 revert=0", "activate 1.0.0 revert=1" }, File.ReadAllLines(_log));

        await v3.PushAndActivateAsync(again, Endpoint(restarted));
        Assert.Equal(v3.ReleaseName, CurrentLink.Read(ServiceDirectory));
        Assert.Equal("activate 3.0.0 revert=0", File.ReadAllLines(_log).Last());
    }

    private void AssertPreviousReleaseActiveAndWhole(TestRelease previous)
    {
        Assert.Equal(previous.ReleaseName, CurrentLink.Read(ServiceDirectory));
        Assert.Equal(previous.Version + "\n", File.ReadAllText(Path.Combine(ServiceDirectory, "current", "VERSION")));
        Assert.Equal(previous.Config, File.ReadAllBytes(Path.Combine(ServiceDirectory, "current", previous.ConfigFileName)));
        Assert.False(File.Exists(Path.Combine(ServiceDirectory, "activation.json")), "the interrupted activation's journal is still there");
    }

    private TestRelease Release(string version, string package) => TestRelease.FromPackage(Service, version, package, $"value: {version}\n");

    private Task<AgentProcess> StartAgentAsync() =>
        AgentProcess.StartAsync(DataDirectory, new[] { _keys.PublicKeyPath }, new[] { "--config", _config, "--log-level", "Warning" });

    private FloydClient Client() => FloydClient.Create(_keys.Rsa, new FloydClientOptions { ActivateTimeout = TimeSpan.FromSeconds(60) });

    private static FloydEndpoint Endpoint(AgentProcess agent) => new() { InstanceId = "crash", Host = "127.0.0.1", Port = agent.Port };

    private static async Task<string> WaitForAsync(Func<string?> probe, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } found)
            {
                return found;
            }

            await Task.Delay(2);
        }

        throw new TimeoutException($"Timed out waiting for {what}.");
    }

    public Task DisposeAsync()
    {
        _keys.Dispose();
        _temp.Dispose();
        return Task.CompletedTask;
    }
}
