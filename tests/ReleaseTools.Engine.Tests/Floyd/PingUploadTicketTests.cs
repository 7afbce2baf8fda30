using Microsoft.AspNetCore.Builder;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Tests.Agent;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Floyd;

/// <summary>
/// The ping that opens an instance's deployment asks a 1.1 agent for the package push's upload ticket (section 2.5),
/// so the push costs no signed round trip of its own. Against a real agent on loopback.
/// </summary>
public sealed class PingUploadTicketTests
{
    [Fact]
    public async Task A_ping_that_names_the_package_and_its_size_brings_the_ticket_the_push_then_uses()
    {
        var pings = new PingCounter();
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: pings.Count);
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 300 * 1024);

        var ping = await client.PingAsync(harness.Endpoint, release.Ping() with { PackageBytes = 300 * 1024 }, CancellationToken.None);
        var pushed = await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);

        Assert.True(ping.NeedPackage);
        Assert.Equal(release.PackageMd5, pushed.Md5);
        Assert.Single(harness.StoredPackageFiles());
        Assert.Equal(1, pings.Seen);

        // Spent once: the next push of the same file asks its own ticket again.
        await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);
        Assert.Equal(2, pings.Seen);
    }

    [Fact]
    public async Task A_ping_without_the_size_asks_no_ticket_and_the_push_asks_its_own()
    {
        var pings = new PingCounter();
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: pings.Count);
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");

        await client.PingAsync(harness.Endpoint, release.Ping(), CancellationToken.None);
        await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);

        Assert.Equal(2, pings.Seen);
        Assert.Single(harness.StoredPackageFiles());
    }

    [Fact]
    public async Task An_agent_of_the_original_protocol_is_never_sent_upload_and_still_receives_the_package()
    {
        using var temp = new TempDirectory("floyd-legacy-ticket");
        using var key = System.Security.Cryptography.RSA.Create(2048);
        await using var legacy = await LegacyFloydAgent.StartAsync(key);
        using var client = FloydClient.Create(key);
        var endpoint = new FloydEndpoint { InstanceId = "old-1", Host = legacy.BaseUri.Host, Port = legacy.BaseUri.Port };
        var release = TestRelease.Create(temp, "billing", "1.0.0", packageBytes: 4096);

        await client.PingAsync(endpoint, release.Ping() with { PackageBytes = 4096 }, CancellationToken.None);
        await client.PushPackageAsync(endpoint, release.Package, CancellationToken.None);

        // A 1.0 agent knows no tickets (section 10): its ping is the original body, and the push follows it directly.
        var ping = Assert.Single(legacy.PingBodies);
        Assert.DoesNotContain("upload", ping, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(release.PackageMd5, ping);
        Assert.Equal(new[] { "/ping", "/package" }, legacy.VerifiedTargets.ToArray());
        Assert.Empty(legacy.Refusals);
    }

    [Fact]
    public async Task A_package_over_the_agent_limit_does_not_fail_the_ping_and_fails_the_push_before_any_byte()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { MaxBodyBytes = 64 * 1024 });
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 200 * 1024);

        // The agent may hold the package already and need no push: the size is the push's concern, not the ping's.
        var ping = await client.PingAsync(harness.Endpoint, release.Ping() with { PackageBytes = 200 * 1024 }, CancellationToken.None);
        var error = await Assert.ThrowsAsync<FloydException>(() => client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None));

        Assert.True(ping.NeedPackage);
        Assert.Equal(FloydStep.Package, error.Step);
        Assert.Equal(FloydErrorCodes.BodyTooLarge, error.AgentErrorCode);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    /// <summary>Counts the pings an agent receives, ahead of its Floyd endpoints.</summary>
    private sealed class PingCounter
    {
        private int _seen;

        public int Seen => Volatile.Read(ref _seen);

        public void Count(IApplicationBuilder app) => app.Use(async (context, next) =>
        {
            if (context.Request.Path == FloydProtocol.PingPath) Interlocked.Increment(ref _seen);
            await next();
        });
    }
}
