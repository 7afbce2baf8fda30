using System.Net.Http;
using System.Text.RegularExpressions;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>
/// A real agent process killed and started again (same port, same data directory, as systemd restarts a crashed
/// agent) between two steps of one instance's deployment: the run goes on against the new process, accepted at once
/// or cleanly retried; the instance ends on the new release, what the agent already stored is not sent again, the
/// instance beside it is untouched and the store records one move.
/// </summary>
public sealed class AgentRestartTests
{
    public static TheoryData<string, int> Gaps() => new()
    {
        // Restarted after the ping, before the push: the new process has no package yet and receives it.
        { InstanceStepRunner.PackageStep, 1 },
        // Restarted after the push, before the activation: the package is on disk, so nothing is sent again.
        { InstanceStepRunner.ActivateStep, 0 },
    };

    [Theory]
    [MemberData(nameof(Gaps))]
    public async Task An_agent_restarted_between_two_steps_still_ends_on_the_new_release_and_the_store_records_one_move(string restartBefore, int pushesToTheNewProcess)
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var agent = await AgentProcess.StartAsync(world.Temp.Combine("agents", "restarted"), new[] { world.Keys.PublicKeyPath });
        try
        {
            await world.Store.RegisterInstancesAsync(new[]
            {
                new InstanceRegistration { InstanceId = "r01", Service = DeploymentWorld.Service, Environment = DeploymentWorld.Environment, Host = "127.0.0.1", Port = agent.Port },
            }, CancellationToken.None);
            var log = new EventLog();
            var restarts = 0;
            log.When(e => e is InstanceStepStarted { InstanceId: "r01" } step && step.Step == restartBefore && step.Attempt == 1, () =>
            {
                // Inside the engine's event, so the step waits until the agent is back, exactly between the two steps.
                agent = agent.RestartAsync().GetAwaiter().GetResult();
                restarts++;
            });
            var request = world.Request("2.0.0", world.Settings()) with { InstanceIds = new[] { "i01", "r01" } };

            var summary = await world.Engine.DeployAsync(request, log, CancellationToken.None);

            DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, summary);
            Assert.Equal(1, restarts);
            var restarted = summary.Results.Single(r => r.InstanceId == "r01");
            Assert.Equal(TargetStatus.Succeeded, restarted.Status);
            Assert.InRange(restarted.Attempts, 1, 2);
            Assert.Equal(TargetStatus.Succeeded, summary.Results.Single(r => r.InstanceId == "i01").Status);
            Assert.Equal(1, summary.Results.Single(r => r.InstanceId == "i01").Attempts);

            // The new process runs the release, and received only what it did not already hold.
            var metrics = await MetricsAsync(agent.Port);
            Assert.Equal(pushesToTheNewProcess, Count(metrics, "/package", "200"));
            Assert.Equal(1, Count(metrics, "/activate", "200"));
            using var client = FloydClient.Create(world.Keys.Rsa, new FloydClientOptions());
            var status = await client.GetStatusAsync(new FloydEndpoint { InstanceId = "r01", Host = "127.0.0.1", Port = agent.Port }, CancellationToken.None);
            Assert.Equal("2.0.0", status.Services.Single(s => s.Service == DeploymentWorld.Service).ActiveVersion);

            // The store recorded exactly one move of each instance.
            Assert.Equal("2.0.0", (await world.Store.GetInstanceAsync("r01", CancellationToken.None))!.Version);
            Assert.Single(await world.Store.GetHistoryAsync("r01", 10, CancellationToken.None));
            Assert.Single(await world.Store.GetHistoryAsync("i01", 10, CancellationToken.None));
        }
        finally
        {
            await agent.DisposeAsync();
        }
    }

    private static async Task<string> MetricsAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync($"http://127.0.0.1:{port}{FloydProtocol.MetricsPath}");
    }

    private static int Count(string metrics, string endpoint, string status)
    {
        var match = Regex.Match(metrics, $"^floyd_requests_total\\{{endpoint=\"{Regex.Escape(endpoint)}\",status=\"{status}\"\\}} (\\d+)", RegexOptions.Multiline);
        return match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }
}
