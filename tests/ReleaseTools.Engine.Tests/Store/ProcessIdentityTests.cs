using System.Diagnostics;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

public sealed class ProcessIdentityTests
{
    [Fact]
    public void The_current_process_is_described_and_alive()
    {
        var owner = ProcessIdentity.Current("d-1");

        Assert.Equal("d-1", owner.DeploymentId);
        Assert.Equal(Environment.MachineName, owner.HostName);
        Assert.Equal(Environment.ProcessId, owner.ProcessId);
        Assert.NotNull(owner.ProcessStartedAt);
        Assert.True(ProcessIdentity.IsAlive(owner));
    }

    [Fact]
    public void A_process_that_exited_is_not_alive()
    {
        Assert.False(ProcessIdentity.IsAlive(ExitedProcessOwner("d-1")));
    }

    [Fact]
    public void A_reused_process_id_with_another_start_time_is_not_the_owner()
    {
        var reused = ProcessIdentity.Current("d-1") with { ProcessStartedAt = DateTimeOffset.UtcNow.AddDays(-3) };

        Assert.False(ProcessIdentity.IsAlive(reused));
    }

    [Fact]
    public void An_owner_on_another_host_cannot_be_judged_here_and_counts_as_alive()
    {
        var remote = ExitedProcessOwner("d-1") with { HostName = "some-other-host.example.test" };

        Assert.True(ProcessIdentity.IsAlive(remote));
    }

    /// <summary>A real process of this host that has already exited, as a dead run would look.</summary>
    internal static LeaseOwner ExitedProcessOwner(string deploymentId)
    {
        using var process = Process.Start(new ProcessStartInfo("dotnet", "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
        var started = new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero);
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "dotnet --version did not exit");
        return new LeaseOwner { DeploymentId = deploymentId, HostName = Environment.MachineName, ProcessId = process.Id, ProcessStartedAt = started };
    }
}
