using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Tests.Agent;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Floyd;

public sealed class FloydClientTests
{
    [Fact]
    public async Task Full_cycle_ping_package_config_activate_verify_against_a_real_agent()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.4.2", packageBytes: 3 * 1024 * 1024 + 17);

        var health = await client.CheckHealthAsync(harness.Endpoint, CancellationToken.None);
        Assert.True(health.Healthy);
        Assert.False(string.IsNullOrEmpty(health.AgentVersion));

        var first = await client.PingAsync(harness.Endpoint, release.Ping(), CancellationToken.None);
        Assert.True(first.NeedPackage);
        Assert.True(first.NeedConfig);
        Assert.Null(first.CurrentVersion);
        Assert.Null(first.CurrentFVersion);

        var pushed = await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);
        Assert.False(pushed.AlreadyStored);
        Assert.Equal(release.PackageMd5, pushed.Md5);
        Assert.Equal(new FileInfo(release.PackagePath).Length, pushed.Bytes);
        await client.PushConfigAsync(harness.Endpoint, release.ConfigPush, CancellationToken.None);
        await client.ActivateAsync(harness.Endpoint, release.Activate, CancellationToken.None);

        var verify = await client.PingAsync(harness.Endpoint, release.Ping("verify"), CancellationToken.None);
        Assert.False(verify.NeedPackage);
        Assert.False(verify.NeedConfig);
        Assert.Equal("1.4.2", verify.CurrentVersion);
        Assert.Equal(release.FVersion, verify.CurrentFVersion);

        var status = await client.GetStatusAsync(harness.Endpoint, CancellationToken.None);
        var service = Assert.Single(status.Services);
        Assert.Equal("billing", service.Service);
        Assert.Equal("1.4.2", service.ActiveVersion);
        Assert.Equal(release.FVersion, service.ActiveFVersion);
        Assert.Equal(new[] { "1.4.2" }, service.StoredVersions);

        var storedBlob = Assert.Single(harness.StoredPackageFiles());
        Assert.Equal(File.ReadAllBytes(release.PackagePath), File.ReadAllBytes(storedBlob));
        var storedConfig = Path.Combine(harness.DataDirectory, "services", "billing", "configs", release.FVersion, "app.yaml");
        Assert.Equal(release.Config, File.ReadAllBytes(storedConfig));
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task Ping_is_read_only()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");

        for (var i = 0; i < 3; i++)
        {
            var ping = await client.PingAsync(harness.Endpoint, release.Ping(), CancellationToken.None);
            Assert.True(ping.NeedPackage);
        }

        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(harness.DataDirectory, "services")));
        Assert.Empty((await client.GetStatusAsync(harness.Endpoint, CancellationToken.None)).Services);
    }

    [Fact]
    public async Task Second_deployment_of_the_same_version_transfers_nothing()
    {
        var requests = new List<string>();
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            lock (requests) requests.Add(context.Request.Path);
            await next();
        }));
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "2.0.0");
        await release.DeployAsync(client, harness.Endpoint);
        var blob = Assert.Single(harness.StoredPackageFiles());
        var writtenAt = File.GetLastWriteTimeUtc(blob);
        lock (requests) requests.Clear();

        await release.DeployAsync(client, harness.Endpoint);

        lock (requests)
        {
            Assert.DoesNotContain("/package", requests);
            Assert.DoesNotContain("/config", requests);
        }

        var ping = await client.PingAsync(harness.Endpoint, release.Ping(), CancellationToken.None);
        Assert.False(ping.NeedPackage);
        Assert.False(ping.NeedConfig);
        Assert.Equal(writtenAt, File.GetLastWriteTimeUtc(Assert.Single(harness.StoredPackageFiles())));
    }

    [Fact]
    public async Task Second_push_of_the_same_bytes_is_a_no_op()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "2.0.0");

        var first = await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);
        var blob = Assert.Single(harness.StoredPackageFiles());
        var writtenAt = File.GetLastWriteTimeUtc(blob);
        var second = await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);

        Assert.False(first.AlreadyStored);
        Assert.True(second.AlreadyStored);
        Assert.Equal(blob, Assert.Single(harness.StoredPackageFiles()));
        Assert.Equal(writtenAt, File.GetLastWriteTimeUtc(blob));
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task A_new_config_needs_only_the_config_and_a_new_fversion()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "3.1.0", configText: "threads: 4\n");
        await release.DeployAsync(client, harness.Endpoint);

        var reconfigured = TestRelease.Create(harness.Temp, "billing", "3.1.0", configText: "threads: 8\n");
        Assert.NotEqual(release.FVersion, reconfigured.FVersion);
        var ping = await client.PingAsync(harness.Endpoint, reconfigured.Ping(), CancellationToken.None);

        Assert.False(ping.NeedPackage);
        Assert.True(ping.NeedConfig);
        Assert.Equal(release.FVersion, ping.CurrentFVersion);
        await reconfigured.DeployAsync(client, harness.Endpoint);
    }

    [Fact]
    public async Task Sha256_mode_works_end_to_end()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { HashAlgorithm = FloydHashAlgorithm.Sha256 });
        using var client = harness.CreateClient(new FloydClientOptions { HashAlgorithm = FloydHashAlgorithm.Sha256 });
        var release = TestRelease.Create(harness.Temp, "ledger", "7.0.0");

        await release.DeployAsync(client, harness.Endpoint);

        var status = await client.GetStatusAsync(harness.Endpoint, CancellationToken.None);
        Assert.Equal(release.FVersion, Assert.Single(status.Services).ActiveFVersion);
    }

    [Fact]
    public async Task Sha1_client_against_a_sha256_agent_gets_a_clear_algorithm_mismatch()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { HashAlgorithm = FloydHashAlgorithm.Sha256 });
        using var client = harness.CreateClient(new FloydClientOptions { HashAlgorithm = FloydHashAlgorithm.Sha1 });
        var release = TestRelease.Create(harness.Temp, "ledger", "7.0.0");

        var error = await Assert.ThrowsAsync<FloydException>(() => client.PingAsync(harness.Endpoint, release.Ping(), CancellationToken.None));

        Assert.Equal(401, error.StatusCode);
        Assert.Equal(FloydErrorCodes.SignatureAlgorithmMismatch, error.AgentErrorCode);
        Assert.Contains("Floyd-RSA-SHA1", error.AgentMessage);
        Assert.Contains("Floyd-RSA-SHA256", error.AgentMessage);
        Assert.False(error.IsTransient);
        Assert.Equal(FloydStep.Ping, error.Step);
        Assert.Equal("test-instance", error.InstanceId);
    }

    [Fact]
    public async Task Rejection_errors_carry_instance_step_status_and_code_but_never_the_signature()
    {
        string? sentAuthorization = null;
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            // A stranger's key fails at the ticket ping that opens the push (section 2.5), so no package byte is sent.
            if (context.Request.Path == "/ping") sentAuthorization = context.Request.Headers.Authorization.ToString();
            if (context.Request.Path == "/package") throw new InvalidOperationException("a push without a ticket was sent");
            await next();
        }));
        using var stranger = RsaKey();
        using var client = harness.CreateClient(key: stranger);
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");

        var error = await Assert.ThrowsAsync<FloydException>(() => client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None));

        Assert.Equal(FloydStep.Package, error.Step);
        Assert.Equal(401, error.StatusCode);
        Assert.Equal(FloydErrorCodes.SignatureInvalid, error.AgentErrorCode);
        Assert.False(error.IsTransient);
        Assert.False(error.IsUnreachable);
        Assert.Contains("test-instance", error.Message);
        Assert.NotNull(sentAuthorization);
        var signature = sentAuthorization!.Split(' ')[1];
        Assert.DoesNotContain(signature, error.ToString());
        Assert.DoesNotContain(signature[..24], error.Message + error.AgentMessage);
        Assert.Empty(harness.StoredPackageFiles());
    }

    [Fact]
    public async Task Activation_without_the_package_is_a_conflict()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");
        await client.PushConfigAsync(harness.Endpoint, release.ConfigPush, CancellationToken.None);

        var error = await Assert.ThrowsAsync<FloydException>(() => client.ActivateAsync(harness.Endpoint, release.Activate, CancellationToken.None));

        Assert.Equal(409, error.StatusCode);
        Assert.Equal(FloydErrorCodes.PackageMissing, error.AgentErrorCode);
        Assert.Equal(FloydStep.Activate, error.Step);
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task Activation_without_the_config_is_a_conflict()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");
        await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);

        var error = await Assert.ThrowsAsync<FloydException>(() => client.ActivateAsync(harness.Endpoint, release.Activate, CancellationToken.None));

        Assert.Equal(409, error.StatusCode);
        Assert.Equal(FloydErrorCodes.ConfigMissing, error.AgentErrorCode);
        var status = await client.GetStatusAsync(harness.Endpoint, CancellationToken.None);
        Assert.Null(Assert.Single(status.Services).ActiveVersion);
    }

    [Fact]
    public async Task A_package_whose_bytes_differ_from_the_expected_md5_is_not_sent()
    {
        var packageRequests = 0;
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            if (context.Request.Path == "/package") Interlocked.Increment(ref packageRequests);
            await next();
        }));
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");
        var push = release.Package with { Md5 = new string('0', 32) };

        var error = await Assert.ThrowsAsync<FloydException>(() => client.PushPackageAsync(harness.Endpoint, push, CancellationToken.None));

        Assert.Null(error.StatusCode);
        Assert.False(error.IsTransient);
        Assert.Contains(release.PackageMd5, error.Message);
        Assert.Equal(0, packageRequests);
    }

    [Fact]
    public async Task A_package_changed_after_its_md5_was_taken_from_it_is_refused_by_the_agent_with_a_checksum_error_and_not_stored()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");
        // The MD5 was computed as the file was written (a package just copied into the cache); then its bytes change, size kept.
        var bytes = File.ReadAllBytes(release.Package.FilePath);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(release.Package.FilePath, bytes);
        var push = release.Package with { Md5ComputedFromFile = true };

        var error = await Assert.ThrowsAsync<FloydException>(() => client.PushPackageAsync(harness.Endpoint, push, CancellationToken.None));

        Assert.Equal(FloydErrorCodes.PackageMd5Mismatch, error.AgentErrorCode);
        Assert.Contains(release.PackageMd5, error.Message);
        Assert.False(error.IsTransient);
        var after = await client.PingAsync(harness.Endpoint, release.Ping(), CancellationToken.None);
        Assert.True(after.NeedPackage);
    }

    [Fact]
    public async Task A_package_whose_md5_was_taken_from_it_is_pushed_and_activated()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");

        var receipt = await client.PushPackageAsync(harness.Endpoint, release.Package with { Md5ComputedFromFile = true }, CancellationToken.None);

        Assert.Equal(release.PackageMd5, receipt.Md5);
        Assert.Equal(1, client.BodiesHashed);
    }

    [Fact]
    public async Task An_agent_answering_503_gives_a_transient_error_with_the_status()
    {
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            if (context.Request.Path == "/ping")
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await context.Response.WriteAsync("{\"error\":\"maintenance\",\"message\":\"try later\"}");
                return;
            }

            await next();
        }));
        using var client = harness.CreateClient();

        var error = await Assert.ThrowsAsync<FloydException>(() =>
            client.PingAsync(harness.Endpoint, TestRelease.Create(harness.Temp, "billing", "1.0.0").Ping(), CancellationToken.None));

        Assert.Equal(503, error.StatusCode);
        Assert.True(error.IsTransient);
        Assert.False(error.IsUnreachable);
        Assert.Equal("maintenance", error.AgentErrorCode);
        Assert.Equal("try later", error.AgentMessage);
    }

    [Fact]
    public async Task A_closed_port_is_unreachable_and_transient()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var key = RsaKey();
        using var client = FloydClient.Create(key, new FloydClientOptions { HealthTimeout = TimeSpan.FromSeconds(5) });
        var endpoint = new FloydEndpoint { InstanceId = "gone", Host = "127.0.0.1", Port = port };

        var error = await Assert.ThrowsAsync<FloydException>(() => client.CheckHealthAsync(endpoint, CancellationToken.None));

        Assert.True(error.IsUnreachable);
        Assert.True(error.IsTransient);
        Assert.Null(error.StatusCode);
        Assert.Equal(FloydStep.Health, error.Step);
    }

    [Fact]
    public async Task A_step_that_outlives_its_timeout_is_a_transient_unreachable_error()
    {
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
            await next();
        }));
        using var client = harness.CreateClient(new FloydClientOptions { PingTimeout = TimeSpan.FromMilliseconds(300) });
        var started = DateTime.UtcNow;

        var error = await Assert.ThrowsAsync<FloydException>(() =>
            client.PingAsync(harness.Endpoint, TestRelease.Create(harness.Temp, "billing", "1.0.0").Ping(), CancellationToken.None));

        Assert.True(error.IsTransient);
        Assert.True(error.IsUnreachable);
        Assert.Contains("timed out", error.Message);
        // Well before the agent's 30 s, however loaded the machine.
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_request_on_which_nothing_moves_for_the_idle_timeout_fails_as_a_stall_before_its_step_timeout()
    {
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted);
            await next();
        }));
        using var client = harness.CreateClient(new FloydClientOptions { PingTimeout = TimeSpan.FromSeconds(30), IdleTimeout = TimeSpan.FromMilliseconds(300) });

        var error = await Assert.ThrowsAsync<FloydException>(() =>
            client.PingAsync(harness.Endpoint, TestRelease.Create(harness.Temp, "billing", "1.0.0").Ping(), CancellationToken.None));

        Assert.True(error.IsTransient);
        Assert.Equal(FloydStep.Ping, error.Step);
        Assert.Contains("stalled: nothing was sent or received for 0.3 s (the idle timeout)", error.Message);
    }

    [Fact]
    public async Task An_activation_answer_that_takes_longer_than_the_idle_timeout_is_waited_for()
    {
        // The agent runs hooks and a health gate before it answers an activation: no byte moves, and that is no stall.
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            if (context.Request.Path == FloydProtocol.ActivatePath)
            {
                await Task.Delay(TimeSpan.FromSeconds(6), context.RequestAborted);
            }

            await next();
        }));
        // An idle timeout a loaded machine's other answers stay well within, and a silent activation three times as long.
        using var client = harness.CreateClient(new FloydClientOptions { IdleTimeout = TimeSpan.FromSeconds(2) });

        await TestRelease.Create(harness.Temp, "billing", "1.0.0").DeployAsync(client, harness.Endpoint);

        var status = await client.GetStatusAsync(harness.Endpoint, CancellationToken.None);
        Assert.Equal("1.0.0", Assert.Single(status.Services).ActiveVersion);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_not_reported_as_an_agent_failure()
    {
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted);
            await next();
        }));
        using var client = harness.CreateClient();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.PingAsync(harness.Endpoint, TestRelease.Create(harness.Temp, "billing", "1.0.0").Ping(), cancellation.Token));
    }

    [Fact]
    public async Task Parallel_pushes_to_one_agent_all_arrive()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient(new FloydClientOptions { MaxConnectionsPerServer = 4 });
        var releases = Enumerable.Range(0, 8).Select(i => TestRelease.Create(harness.Temp, $"svc{i}", "1.0.0", packageBytes: 512 * 1024)).ToArray();

        await Task.WhenAll(releases.Select(r => r.DeployAsync(client, harness.Endpoint)));

        var status = await client.GetStatusAsync(harness.Endpoint, CancellationToken.None);
        Assert.Equal(8, status.Services.Count);
        Assert.All(status.Services, s => Assert.Equal("1.0.0", s.ActiveVersion));
        Assert.Equal(8, harness.StoredPackageFiles().Length);
    }

    private static System.Security.Cryptography.RSA RsaKey() => System.Security.Cryptography.RSA.Create(2048);
}
