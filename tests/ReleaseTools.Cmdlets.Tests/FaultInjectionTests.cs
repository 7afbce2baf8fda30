using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// Network faults between the module and a real agent, injected by a loopback proxy (<see cref="FaultProxy"/>):
/// each instance behind it ends as it should (retried and succeeded, or failed at the right step), the instance
/// beside it is untouched, the agent still runs its previous release when the new one did not arrive, and the store
/// records what really happened.
/// </summary>
public sealed class FaultInjectionTests : IClassFixture<AgentFleet>
{
    private readonly AgentFleet _fleet;

    public FaultInjectionTests(AgentFleet fleet) => _fleet = fleet;

    /// <summary>
    /// Service <paramref name="service"/> on agents 0 and 1 at 1.0.0, then instance -01 re-registered behind a proxy
    /// with the fault; returns the proxy and the store.
    /// </summary>
    private (FaultProxy Proxy, string Store) ReleasedThenFaulty(string service, ProxyFault fault, int times)
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, $"""
            Register-ServiceInstance -InstanceId {service}-01 -Service {service} -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[0].Port}
            Register-ServiceInstance -InstanceId {service}-02 -Service {service} -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[1].Port}
            Invoke-Deployment -Service {service} -Version 1.0.0 -PackageUrl $V1 -Force
            """).ThrowOnError();
        var proxy = new FaultProxy(_fleet.Agents[0].Port, fault, times);
        _fleet.Invoke(store, $"Register-ServiceInstance -InstanceId {service}-01 -Service {service} -Environment prod -HostName 127.0.0.1 -Port {proxy.Port}").ThrowOnError();
        return (proxy, store);
    }

    private Dictionary<string, System.Management.Automation.PSObject> Deploy(string store, string service, int retries, string extra = "")
    {
        var run = _fleet.Invoke(store, $"Invoke-Deployment -Service {service} -Version 2.0.0 -PackageUrl $V2 -RetryCount {retries} {extra} -Force -ErrorAction SilentlyContinue");
        Assert.Null(run.Terminating);
        return run.Output.ToDictionary(r => (string)r.Properties["InstanceId"].Value);
    }

    private string? AgentVersion(string service, int agent) => _fleet.AgentVersion(service, agent);

    private void AssertStoreSays(string store, string instanceId, string version)
        => Assert.Equal(version, Assert.Single(_fleet.Invoke(store, $"Get-ServiceInstance -InstanceId {instanceId}").ThrowOnError().Output).Properties["Version"].Value);

    [Fact]
    public void A_connection_reset_mid_push_is_retried_and_the_instance_succeeds()
    {
        var (proxy, store) = ReleasedThenFaulty("reset", ProxyFault.ResetMidBody, 1);
        using (proxy)
        {
            var results = Deploy(store, "reset", retries: 2);

            Assert.Equal(1, proxy.Faulted);
            Assert.Equal("Succeeded", results["reset-01"].Properties["Status"].Value.ToString());
            Assert.True((int)results["reset-01"].Properties["Attempts"].Value >= 2);
            Assert.Equal("Succeeded", results["reset-02"].Properties["Status"].Value.ToString());
            Assert.Equal("2.0.0", AgentVersion("reset", 0));
            AssertStoreSays(store, "reset-01", "2.0.0");
        }
    }

    [Fact]
    public void A_connection_reset_mid_push_without_retries_fails_that_instance_at_the_package_step_and_loses_nothing()
    {
        var (proxy, store) = ReleasedThenFaulty("cut", ProxyFault.ResetMidBody, 1);
        using (proxy)
        {
            var results = Deploy(store, "cut", retries: 0);

            Assert.Equal(1, proxy.Faulted);
            var cut = results["cut-01"];
            Assert.Contains(cut.Properties["Status"].Value.ToString(), new[] { "Failed", "Unreachable" });
            Assert.Equal("package", cut.Properties["FailedStep"].Value);
            Assert.Equal("Succeeded", results["cut-02"].Properties["Status"].Value.ToString());
            // The agent still runs the previous release, and the store says so.
            Assert.Equal("1.0.0", AgentVersion("cut", 0));
            Assert.Equal("2.0.0", AgentVersion("cut", 1));
            AssertStoreSays(store, "cut-01", "1.0.0");
            AssertStoreSays(store, "cut-02", "2.0.0");
            var history = _fleet.Invoke(store, "Get-InstanceVersionHistory -InstanceId cut-01").ThrowOnError().Output;
            Assert.Equal(new[] { "1.0.0" }, history.Select(h => (string)h.Properties["Version"].Value));
        }
    }

    [Fact]
    public void Answers_503_for_the_first_two_requests_are_retried_and_the_instance_succeeds()
    {
        var (proxy, store) = ReleasedThenFaulty("busy", ProxyFault.ServiceUnavailable, 2);
        using (proxy)
        {
            var results = Deploy(store, "busy", retries: 2);

            Assert.Equal(2, proxy.Faulted);
            Assert.Equal("Succeeded", results["busy-01"].Properties["Status"].Value.ToString());
            Assert.Equal(3, (int)results["busy-01"].Properties["Attempts"].Value);
            Assert.Equal(1, (int)results["busy-02"].Properties["Attempts"].Value);
            Assert.Equal("2.0.0", AgentVersion("busy", 0));
            AssertStoreSays(store, "busy-01", "2.0.0");
        }
    }

    [Fact]
    public void A_truncated_answer_is_retried_and_the_instance_succeeds()
    {
        var (proxy, store) = ReleasedThenFaulty("short", ProxyFault.TruncateResponse, 1);
        using (proxy)
        {
            var results = Deploy(store, "short", retries: 2);

            Assert.Equal(1, proxy.Faulted);
            Assert.Equal("Succeeded", results["short-01"].Properties["Status"].Value.ToString());
            Assert.True((int)results["short-01"].Properties["Attempts"].Value >= 2);
            Assert.Equal("Succeeded", results["short-02"].Properties["Status"].Value.ToString());
            Assert.Equal("2.0.0", AgentVersion("short", 0));
            AssertStoreSays(store, "short-01", "2.0.0");
        }
    }

    [Fact]
    public void Delayed_response_headers_within_the_timeout_are_waited_for_without_a_retry()
    {
        var (proxy, store) = ReleasedThenFaulty("slow", ProxyFault.DelayHeaders, 1);
        using (proxy)
        {
            var results = Deploy(store, "slow", retries: 2);

            Assert.Equal(1, proxy.Faulted);
            Assert.Equal("Succeeded", results["slow-01"].Properties["Status"].Value.ToString());
            Assert.Equal(1, (int)results["slow-01"].Properties["Attempts"].Value);
            Assert.Equal("2.0.0", AgentVersion("slow", 0));
        }
    }

    [Fact]
    public void A_push_that_stalls_past_the_idle_timeout_fails_that_instance_alone_at_the_package_step_and_loses_nothing()
    {
        // Every connection to stall-01's agent hangs once 16 KiB of the push went through: each attempt must give up.
        var (proxy, store) = ReleasedThenFaulty("stall", ProxyFault.StallMidBody, 10);
        using (proxy)
        {
            var results = Deploy(store, "stall", retries: 1, extra: "-IdleTimeoutSeconds 2");

            Assert.Equal(2, proxy.Faulted);
            var stalled = results["stall-01"];
            Assert.Contains(stalled.Properties["Status"].Value.ToString(), new[] { "Failed", "Unreachable" });
            Assert.Equal("package", stalled.Properties["FailedStep"].Value);
            Assert.Equal(2, (int)stalled.Properties["Attempts"].Value);
            var error = (string)stalled.Properties["Error"].Value;
            Assert.Contains("stalled", error);
            Assert.Contains("for 2 s (the idle timeout)", error);
            Assert.Contains("stall-01", error);
            Assert.Equal("Succeeded", results["stall-02"].Properties["Status"].Value.ToString());
            Assert.Equal("1.0.0", AgentVersion("stall", 0));
            Assert.Equal("2.0.0", AgentVersion("stall", 1));
            AssertStoreSays(store, "stall-01", "1.0.0");
            AssertStoreSays(store, "stall-02", "2.0.0");
            // The run's record says what happened to each: one moved, one did not (which breaches the default tolerance of 0).
            var run = Assert.Single(_fleet.Invoke(store, "Get-ReleaseDeployment -Limit 1").ThrowOnError().Output);
            Assert.Equal(1, (int)run.Properties["Succeeded"].Value);
            Assert.Equal(1, (int)run.Properties["Failed"].Value);
            Assert.Equal("Failed", run.Properties["Status"].Value.ToString());
        }
    }

    [Fact]
    public void A_push_that_stalls_once_is_given_up_after_the_idle_timeout_retried_and_succeeds()
    {
        var (proxy, store) = ReleasedThenFaulty("hang", ProxyFault.StallMidBody, 1);
        using (proxy)
        {
            var results = Deploy(store, "hang", retries: 2, extra: "-IdleTimeoutSeconds 2");

            Assert.Equal(1, proxy.Faulted);
            Assert.Equal("Succeeded", results["hang-01"].Properties["Status"].Value.ToString());
            Assert.Equal(2, (int)results["hang-01"].Properties["Attempts"].Value);
            Assert.Equal(1, (int)results["hang-02"].Properties["Attempts"].Value);
            Assert.Equal("2.0.0", AgentVersion("hang", 0));
            AssertStoreSays(store, "hang-01", "2.0.0");
        }
    }
}
