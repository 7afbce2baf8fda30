using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>The agent as a separate process, the way users run it: command line, port 0, and being killed.</summary>
public sealed class AgentProcessTests
{
    [Fact]
    public async Task Agent_process_on_port_zero_reports_its_real_address_and_serves_it()
    {
        using var temp = new TempDirectory("floyd-process");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        await using var agent = await AgentProcess.StartAsync(temp.Combine("data"), new[] { keys.PublicKeyPath });

        Assert.Equal("127.0.0.1", agent.BaseUri.Host);
        Assert.NotEqual(0, agent.Port);
        using var client = FloydClient.Create(keys.Rsa);
        var health = await client.CheckHealthAsync(Endpoint(agent), CancellationToken.None);
        Assert.True(health.Healthy);
    }

    /// <summary>
    /// Microsoft.Extensions.Hosting.Systemd for real: the agent started as systemd starts it (parent named systemd,
    /// NOTIFY_SOCKET set) sends READY=1 on the unix datagram socket once it listens, and writes its log lines with
    /// journald priority prefixes (&lt;6&gt; information, &lt;4&gt; warning) instead of the console format.
    /// </summary>
    [Fact]
    public async Task Agent_process_under_systemd_notifies_readiness_and_logs_with_journald_priorities()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var temp = new TempDirectory("floyd-systemd");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        var socketPath = temp.Combine("notify.sock");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
        var buffer = new byte[4096];
        var received = socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None);

        await using var agent = await AgentProcess.StartAsSystemdServiceAsync(temp.Combine("parent"), socketPath, temp.Combine("data"), new[] { keys.PublicKeyPath });

        var ready = await received.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("READY=1", System.Text.Encoding.UTF8.GetString(buffer, 0, ready).Trim());
        // Only the agent itself speaks to systemd: the private copy its start-up rehearsal runs (before the agent listens,
        // so before this READY) sent nothing, no READY and no STOPPING of its own.
        Assert.Equal(0, socket.Available);
        using var client = FloydClient.Create(keys.Rsa);
        Assert.True((await client.CheckHealthAsync(Endpoint(agent), CancellationToken.None)).Healthy);
        // An unsigned ping is refused and logged as a warning: the line carries journald's priority, not the console layout.
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
        await http.PostAsync(new Uri(agent.BaseUri, "/ping"), new StringContent("{}"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!agent.RecentOutput.Contains("<4>", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var lines = agent.RecentOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("<4>", StringComparison.Ordinal));
        Assert.All(lines.Where(l => !l.StartsWith(AgentProcess.ListeningPrefix, StringComparison.Ordinal)),
            l => Assert.Matches(@"^<[0-7]>", l));
    }

    [Fact]
    public async Task Agent_process_accepts_several_authorized_keys_and_sha256()
    {
        using var temp = new TempDirectory("floyd-process");
        using var first = TestKeys.Create(temp.CreateDirectory("keys"), "first");
        using var second = TestKeys.Create(temp.CreateDirectory("keys"), "second");
        await using var agent = await AgentProcess.StartAsync(temp.Combine("data"), new[] { first.PublicKeyPath, second.PublicKeyPath },
            new[] { "--hash-algorithm", "sha256", "--keep-releases", "2", "--clock-skew", "120" });
        var options = new FloydClientOptions { HashAlgorithm = FloydHashAlgorithm.Sha256 };

        foreach (var key in new[] { first, second })
        {
            using var client = FloydClient.Create(key.Rsa, options);
            var ping = await client.PingAsync(Endpoint(agent), new PingRequest { Service = "billing", Version = "1.0.0", FVersion = "fv1" }, CancellationToken.None);
            Assert.True(ping.NeedPackage);
        }
    }

    [Fact]
    public async Task Agent_process_refuses_to_start_without_an_authorized_key()
    {
        using var temp = new TempDirectory("floyd-process");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AgentProcess.StartAsync(temp.Combine("data"), Array.Empty<string>()));

        Assert.Contains("--authorized-key", error.Message);
    }

    [Fact]
    public async Task Agent_process_refuses_to_start_with_an_authorized_key_under_2048_bits()
    {
        using var temp = new TempDirectory("floyd-process");
        using var strong = TestKeys.Create(temp.CreateDirectory("keys"), "strong");
        using var weak = TestKeys.Create(temp.Combine("keys"), "weak", keySizeBits: 1024);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AgentProcess.StartAsync(temp.Combine("data"), new[] { strong.PublicKeyPath, weak.PublicKeyPath }));

        Assert.Contains("1024 bits", error.Message);
        Assert.Contains("under 2048 bits", error.Message);
        Assert.Contains(weak.PublicKeyPath, error.Message);
    }

    [Fact]
    public async Task Agent_killed_mid_push_leaves_the_previous_release_active_after_restart()
    {
        using var temp = new TempDirectory("floyd-crash");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        var dataDirectory = temp.Combine("data");
        var v1 = TestRelease.Create(temp, "billing", "1.0.0");
        var v2 = TestRelease.Create(temp, "billing", "2.0.0", packageBytes: 8 * 1024 * 1024);

        await using (var agent = await AgentProcess.StartAsync(dataDirectory, new[] { keys.PublicKeyPath }))
        {
            using var client = FloydClient.Create(keys.Rsa);
            await v1.DeployAsync(client, Endpoint(agent));

            // Push v2 slowly so the agent is surely in the middle of receiving it when it dies.
            var file = File.ReadAllBytes(v2.PackagePath);
            var (body, contentType) = RawFloyd.PackageBody(v2.Service, v2.Version, v2.FVersion, file);
            var target = await RawFloyd.PushTargetAsync(agent.BaseUri, File.ReadAllText(Path.Combine(dataDirectory, "agent-id")).Trim(), keys.Rsa,
                FloydHashAlgorithm.Sha1, "/package", v2.Service, v2.Version, v2.FVersion, file);
            var headers = RawFloyd.Sign(keys.Rsa, FloydHashAlgorithm.Sha1, body, target);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(agent.BaseUri, target)) { Content = new TrickleContent(body, contentType) };
            request.Content.Headers.TryAddWithoutValidation("Content-MD5", RawFloyd.Md5Base64(file));
            request.Headers.TryAddWithoutValidation("TimeStamp", headers.TimeStamp);
            request.Headers.TryAddWithoutValidation("Authorization", headers.Authorization);
            var push = http.SendAsync(request);

            var incoming = Path.Combine(dataDirectory, "tmp");
            var watch = Stopwatch.StartNew();
            while (!Directory.EnumerateFiles(incoming).Any(f => new FileInfo(f).Length > 64 * 1024))
            {
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "the agent never started writing the pushed package");
                Assert.False(push.IsCompleted, "the push finished before the agent could be killed");
                await Task.Delay(20);
            }

            agent.Kill();
            Assert.True(agent.HasExited);
            await Assert.ThrowsAnyAsync<Exception>(() => push);
            Assert.NotEmpty(Directory.EnumerateFiles(incoming));
        }

        await using (var restarted = await AgentProcess.StartAsync(dataDirectory, new[] { keys.PublicKeyPath }))
        {
            using var client = FloydClient.Create(keys.Rsa);
            var status = await client.GetStatusAsync(Endpoint(restarted), CancellationToken.None);
            var service = Assert.Single(status.Services);
            Assert.Equal("1.0.0", service.ActiveVersion);
            Assert.Equal(v1.FVersion, service.ActiveFVersion);
            Assert.Equal(new[] { "1.0.0" }, service.StoredVersions);

            var ping = await client.PingAsync(Endpoint(restarted), v2.Ping(), CancellationToken.None);
            Assert.True(ping.NeedPackage);
            Assert.Equal("1.0.0", ping.CurrentVersion);
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(dataDirectory, "tmp")));
            Assert.Single(Directory.EnumerateFiles(Path.Combine(dataDirectory, "packages")));

            // The interrupted release can then be deployed normally.
            await v2.DeployAsync(client, Endpoint(restarted));
        }
    }

    private static FloydEndpoint Endpoint(AgentProcess agent) =>
        new() { InstanceId = "process-agent", Host = agent.BaseUri.Host, Port = agent.Port };

    /// <summary>A body with a known length that is written a little at a time.</summary>
    private sealed class TrickleContent : HttpContent
    {
        private readonly byte[] _body;

        public TrickleContent(byte[] body, string contentType)
        {
            _body = body;
            Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            const int chunk = 32 * 1024;
            for (var offset = 0; offset < _body.Length; offset += chunk)
            {
                await stream.WriteAsync(_body.AsMemory(offset, Math.Min(chunk, _body.Length - offset)));
                await stream.FlushAsync();
                await Task.Delay(10);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }
}
