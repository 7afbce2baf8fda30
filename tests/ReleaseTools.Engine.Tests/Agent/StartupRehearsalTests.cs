using System.Net;
using System.Net.Http;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// Before it listens, an agent rehearses deployments on a private copy of itself (StartupRehearsal says why): it must
/// leave no trace a client or the data directory can see, never stop the agent, and be skippable.
/// </summary>
public sealed class StartupRehearsalTests
{
    private const string RehearsedLine = "Rehearsed three deployments on a private copy of the agent";
    /// <summary>Where the rehearsal works, inside the data directory (docs/agent.md).</summary>
    private const string FolderName = "rehearsal";

    [Fact]
    public async Task An_agent_started_as_operators_start_it_rehearses_and_nothing_of_it_is_left_to_see()
    {
        using var temp = new TempDirectory("rehearsal-process");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        await using var agent = await AgentProcess.StartAsync(temp.Combine("data"), new[] { keys.PublicKeyPath });

        Assert.Contains(RehearsedLine, agent.RecentOutput);
        Assert.DoesNotContain("rehearsal of a deployment failed", agent.RecentOutput);
        Assert.False(Directory.Exists(Path.Combine(agent.DataDirectory, FolderName)));
        Assert.Equal(new[] { "agent-id", "packages", "replay.log", "services", "tmp" },
            Directory.EnumerateFileSystemEntries(agent.DataDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(agent.DataDirectory, "services")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(agent.DataDirectory, "packages")));

        // The rehearsal's requests went to its copy: the real agent has answered only its own health check.
        var metrics = await GetAsync(agent.BaseUri, "/metrics");
        Assert.Contains("floyd_requests_total{endpoint=\"/health\",status=\"200\"} 1", metrics);
        Assert.DoesNotContain("endpoint=\"/package\"", metrics);

        using var client = FloydClient.Create(keys.Rsa);
        var endpoint = new FloydEndpoint { InstanceId = "web-01", Host = agent.BaseUri.Host, Port = agent.Port };
        Assert.Empty((await client.GetStatusAsync(endpoint, CancellationToken.None)).Services);
        var ping = await client.PingAsync(endpoint, new PingRequest { Service = "rehearsal", Version = "1.0.0", FVersion = "fv1" }, CancellationToken.None);
        Assert.True(ping.NeedPackage);
        Assert.Null(ping.CurrentVersion);
    }

    [Fact]
    public async Task No_rehearsal_skips_it()
    {
        using var temp = new TempDirectory("rehearsal-off");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        await using var agent = await AgentProcess.StartAsync(temp.Combine("data"), new[] { keys.PublicKeyPath }, new[] { "--no-rehearsal" });

        Assert.DoesNotContain("Rehearsed", agent.RecentOutput);
        Assert.Contains("serving", agent.RecentOutput);
    }

    [Fact]
    public async Task A_rehearsal_that_cannot_run_is_a_warning_and_the_agent_serves()
    {
        using var temp = new TempDirectory("rehearsal-blocked");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        // A file where the rehearsal's folder goes: not the agent's to remove, and the rehearsal cannot start.
        var blocker = temp.WriteFile($"data/{FolderName}", "an operator's file");
        await using var agent = await AgentProcess.StartAsync(temp.Combine("data"), new[] { keys.PublicKeyPath });

        Assert.Contains("start-up rehearsal of a deployment failed", agent.RecentOutput);
        Assert.DoesNotContain(RehearsedLine, agent.RecentOutput);
        Assert.Equal("an operator's file", File.ReadAllText(blocker));
        using var client = FloydClient.Create(keys.Rsa);
        var endpoint = new FloydEndpoint { InstanceId = "web-01", Host = agent.BaseUri.Host, Port = agent.Port };
        Assert.True((await client.CheckHealthAsync(endpoint, CancellationToken.None)).Healthy);
    }

    [Fact]
    public async Task A_rehearsal_folder_a_killed_agent_left_is_removed_at_start()
    {
        using var temp = new TempDirectory("rehearsal-leftover");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        var leftover = temp.WriteFile($"data/{FolderName}/data/services/rehearsal/releases/x/service.bin", new byte[100]);
        File.SetAttributes(leftover, FileAttributes.ReadOnly);

        await using (await FloydAgentHost.StartAsync(new FloydAgentOptions { DataDirectory = temp.Combine("data"), AuthorizedKeyFiles = new[] { keys.PublicKeyPath } }))
        {
            Assert.False(Directory.Exists(temp.Combine($"data/{FolderName}")));
        }
    }

    [Fact]
    public void The_command_line_and_the_config_file_can_switch_it_off()
    {
        Assert.True(FloydAgentCommandLine.Parse(new[] { "--data-dir", "d", "--authorized-key", "k" }).RehearseOnStart);
        Assert.False(FloydAgentCommandLine.Parse(new[] { "--data-dir", "d", "--authorized-key", "k", "--no-rehearsal" }).RehearseOnStart);
        Assert.Throws<FormatException>(() => FloydAgentCommandLine.Parse(new[] { "--data-dir", "d", "--authorized-key", "k", "--no-rehearsal=yes" }));

        using var temp = new TempDirectory("rehearsal-config");
        var config = temp.WriteFile("agent.yaml", "dataDir: data\nauthorizedKeys: [ deploy.pub.pem ]\nrehearseOnStart: false\n");
        Assert.False(FloydAgentCommandLine.Parse(new[] { "--config", config }).RehearseOnStart);
    }

    private static async Task<string> GetAsync(Uri baseUri, string path)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync(new Uri(baseUri, path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
