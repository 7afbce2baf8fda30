using System.Net;
using System.Text;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>Symbolic links planted in a real agent's data directory: it neither writes nor cleans through them (issue 12, weakness 6).</summary>
public sealed class AgentSymlinkTests
{
    [Fact]
    public async Task A_push_into_a_symlinked_service_directory_is_refused_and_nothing_is_written_outside()
    {
        if (OperatingSystem.IsWindows()) return; // symbolic links need a privilege there
        using var outside = new TempDirectory("floyd-outside");
        await using var harness = await AgentHarness.StartAsync();
        Directory.CreateSymbolicLink(Path.Combine(harness.DataDirectory, "services", "billing"), outside.Path);
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 4096);

        var error = await Assert.ThrowsAsync<FloydException>(() => release.DeployAsync(client, harness.Endpoint));

        Assert.Equal(FloydErrorCodes.DataDirectoryUnsafe, error.AgentErrorCode);
        Assert.Empty(Directory.GetFileSystemEntries(outside.Path));
    }

    [Fact]
    public async Task An_agent_whose_tmp_folder_is_a_symlink_refuses_to_start_and_deletes_nothing_through_it()
    {
        if (OperatingSystem.IsWindows()) return;
        using var outside = new TempDirectory("floyd-outside");
        var precious = outside.WriteFile("precious.txt", Encoding.UTF8.GetBytes("keep me"));
        using var temp = new TempDirectory("floyd-agent");
        var data = temp.CreateDirectory("data");
        Directory.CreateSymbolicLink(Path.Combine(data, "tmp"), outside.Path);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AgentHarness.StartAsync(o => o with { DataDirectory = data }));

        Assert.Contains("symbolic link", error.Message);
        Assert.True(File.Exists(precious));
    }
}
