using System.Net;
using System.Text;
using System.Text.Json;
using ReleaseTools.Agent.Activation;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// Several instances of one service behind one agent (docs/floyd-protocol.md, section 4.1), against real agents on
/// loopback: each instance has its own releases and active pointer, the instance id is bound into the signed target,
/// and the client never addresses an instance on an agent that does not announce the feature.
/// </summary>
public sealed class AgentInstanceTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Two_instances_of_web_on_one_agent_keep_their_own_releases_active_pointer_and_hook_environment()
    {
        // One hook for the service, which every instance inherits; it records the instance it ran for in its release.
        var settings = new ServiceSettings { Activate = new HookCommand("printf '%s' \"$FLOYD_SERVICE/$FLOYD_INSTANCE\" > ran-for.txt", TimeSpan.FromSeconds(30)) };
        await using var harness = await AgentHarness.StartAsync(o => o with { Services = new Dictionary<string, ServiceSettings> { ["web"] = settings } });
        using var client = harness.CreateClient();
        var first = harness.Endpoint with { InstanceId = "web-8081" };
        var second = harness.Endpoint with { InstanceId = "web-8082", AgentInstance = "port-8082" };
        var v1 = TestRelease.Create(harness.Temp, "web", "1.0.0");
        var v2 = TestRelease.Create(harness.Temp, "web", "2.0.0");

        await v1.DeployAsync(client, first);
        var secondPing = await client.PingAsync(second, v1.Ping(), None);
        await v1.DeployAsync(client, second);
        await v2.DeployAsync(client, second);

        // The second instance needed the release although the first ran it: it is another instance, not "Unchanged".
        Assert.Null(secondPing.CurrentVersion);
        Assert.True(secondPing.NeedPackage); // each instance maps its own versions...
        Assert.True(secondPing.NeedConfig);
        Assert.Equal(2, harness.StoredPackageFiles().Length); // ...to package bytes stored once, by content
        Assert.Equal("1.0.0", (await client.PingAsync(first, v1.Ping(), None)).CurrentVersion);
        Assert.Equal("2.0.0", (await client.PingAsync(second, v2.Ping(), None)).CurrentVersion);
        var defaultDirectory = Path.Combine(harness.DataDirectory, "services", "web");
        var instanceDirectory = Path.Combine(harness.DataDirectory, "services", "web@port-8082");
        Assert.Equal(v1.ReleaseName, Path.GetFileName(new DirectoryInfo(Path.Combine(defaultDirectory, "current")).LinkTarget));
        Assert.Equal(v2.ReleaseName, Path.GetFileName(new DirectoryInfo(Path.Combine(instanceDirectory, "current")).LinkTarget));
        Assert.Equal("web/", File.ReadAllText(Path.Combine(defaultDirectory, "current", "ran-for.txt")));
        Assert.Equal("web/port-8082", File.ReadAllText(Path.Combine(instanceDirectory, "current", "ran-for.txt")));

        var status = await client.GetStatusAsync(first, None);
        Assert.Equal(new[] { ("web", (string?)null, (string?)"1.0.0"), ("web", "port-8082", "2.0.0") },
            status.Services.Select(s => (s.Service, s.Instance, s.ActiveVersion)).ToArray());
        var raw = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Get, harness.Uri("/status"), Array.Empty<byte>(), "application/json",
            RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, Array.Empty<byte>(), harness.Target("/status"))));
        using var json = JsonDocument.Parse(raw.Text);
        Assert.False(json.RootElement.GetProperty("services")[0].TryGetProperty("instance", out _)); // the default instance's entry is as before
    }

    [Fact]
    public async Task A_request_signed_for_instance_a_cannot_be_replayed_as_instance_b()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var a = harness.Endpoint with { InstanceId = "web-a", AgentInstance = "a" };
        var release = TestRelease.Create(harness.Temp, "web", "1.0.0");
        await release.DeployAsync(client, a);
        var v2 = TestRelease.Create(harness.Temp, "web", "2.0.0");
        var ping = await client.PingAsync(a, v2.Ping(), None);
        await client.PushPackageAsync(a, v2.Package, None);
        await client.PushConfigAsync(a, v2.ConfigPush, None);

        // A captured activation for instance a, sent with its target changed to instance b (or with b added after a).
        var body = RawFloyd.Json(new ActivateRequestBody { Service = "web", Version = "2.0.0", FVersion = v2.FVersion });
        var signedFor = harness.Target("/activate") + "&instance=a";
        var headers = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, signedFor);
        var asB = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(harness.Target("/activate") + "&instance=b"), body, "application/json", headers));
        var asBoth = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(signedFor + "&instance=b"), body, "application/json", headers));
        var asDefault = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(harness.Target("/activate")), body, "application/json", headers));

        Assert.True(ping.NeedPackage);
        Assert.Equal((HttpStatusCode.Unauthorized, FloydErrorCodes.SignatureInvalid), (asB.Status, asB.Error));
        Assert.Equal((HttpStatusCode.Unauthorized, FloydErrorCodes.SignatureInvalid), (asBoth.Status, asBoth.Error));
        Assert.Equal((HttpStatusCode.Unauthorized, FloydErrorCodes.SignatureInvalid), (asDefault.Status, asDefault.Error));
        Assert.False(Directory.Exists(Path.Combine(harness.DataDirectory, "services", "web@b")));
        Assert.False(Directory.Exists(Path.Combine(harness.DataDirectory, "services", "web")));
        Assert.Equal("1.0.0", (await client.PingAsync(a, release.Ping(), None)).CurrentVersion);

        // Sent as signed, it is a's activation, once; the same bytes again are a replay. Signed honestly for b, the
        // activation is b's, and b holds no release.
        var first = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(signedFor), body, "application/json", headers));
        var replayed = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(signedFor), body, "application/json", headers));
        var forB = harness.Target("/activate") + "&instance=b";
        var honestB = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(forB), body, "application/json",
            RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, forB)));
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal((HttpStatusCode.Unauthorized, FloydErrorCodes.SignatureReplayed), (replayed.Status, replayed.Error));
        Assert.Equal((HttpStatusCode.Conflict, FloydErrorCodes.PackageMissing), (honestB.Status, honestB.Error));
        Assert.Equal("2.0.0", (await client.PingAsync(a, v2.Ping(), None)).CurrentVersion);
    }

    [Fact]
    public async Task An_upload_ticket_issued_for_one_instance_admits_no_push_to_another()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = Encoding.UTF8.GetBytes("package bytes");
        var ticketTarget = await RawFloyd.PushTargetAsync(harness.Agent.BaseUri, harness.Agent.AgentId, harness.Keys.Rsa, FloydHashAlgorithm.Sha1,
            "/package", "web", "1.0.0", "fv1", file, instance: "a");
        var forB = ticketTarget.Replace("&instance=a", "&instance=b", StringComparison.Ordinal);
        var (body, contentType) = RawFloyd.PackageBody("web", "1.0.0", "fv1", file);

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(forB), body, contentType,
            RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, forB), RawFloyd.Md5Base64(file)));

        Assert.Contains("&instance=a&", ticketTarget);
        Assert.Equal((HttpStatusCode.BadRequest, FloydErrorCodes.UploadTicketMismatch), (response.Status, response.Error));
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    [Theory]
    [InlineData("&instance=b%0A", FloydErrorCodes.InvalidName)]
    [InlineData("&instance=nul", FloydErrorCodes.InvalidName)]
    [InlineData("&instance=a.b", FloydErrorCodes.InvalidName)]
    [InlineData("&instance=..", FloydErrorCodes.InvalidName)]
    [InlineData("&instance=", FloydErrorCodes.InvalidRequest)]
    [InlineData("&instance=a&instance=b", FloydErrorCodes.InvalidRequest)]
    public async Task A_signed_request_naming_an_unusable_instance_is_refused_and_changes_nothing(string query, string error)
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("web");
        var target = harness.Target("/ping") + query;

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(target), body, "application/json",
            RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target)));

        Assert.Equal((HttpStatusCode.BadRequest, error), (response.Status, response.Error));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(harness.DataDirectory, "services")));
    }

    [Fact]
    public async Task An_instance_id_that_differs_only_in_case_from_one_the_agent_holds_is_refused_on_a_push()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "web", "1.0.0");
        await release.DeployAsync(client, harness.Endpoint with { AgentInstance = "blue" });

        var twin = harness.Endpoint with { AgentInstance = "Blue" };
        var refused = await Assert.ThrowsAsync<FloydException>(() => client.PushConfigAsync(twin, release.ConfigPush, None));

        Assert.Equal(FloydErrorCodes.InvalidName, refused.AgentErrorCode);
        Assert.Contains("'blue'", refused.AgentMessage);
        Assert.Equal(new[] { "web@blue" }, Directory.GetDirectories(Path.Combine(harness.DataDirectory, "services")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task The_client_refuses_to_address_an_instance_on_an_agent_that_does_not_announce_instances_and_sends_nothing()
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        await using var legacy = await LegacyFloydAgent.StartAsync(key);
        using var client = FloydClient.Create(key);
        var endpoint = new FloydEndpoint { InstanceId = "web-8082", Host = legacy.BaseUri.Host, Port = legacy.BaseUri.Port, AgentInstance = "port-8082" };

        var refused = await Assert.ThrowsAsync<FloydException>(() => client.PingAsync(endpoint, new PingRequest { Service = "web", Version = "1.0.0", FVersion = "fv1" }, None));
        var defaultInstance = await client.PingAsync(endpoint with { AgentInstance = null }, new PingRequest { Service = "web", Version = "1.0.0", FVersion = "fv1" }, None);

        Assert.Equal(FloydErrorCodes.AgentInstancesUnsupported, refused.AgentErrorCode);
        Assert.False(refused.IsTransient);
        Assert.Contains("'port-8082'", refused.Message);
        Assert.Contains("-AgentInstance", refused.Message);
        Assert.Equal(new[] { "/ping" }, legacy.VerifiedTargets.ToArray()); // only the default instance's ping reached it
        Assert.True(defaultInstance.NeedPackage);
    }

    [Fact]
    public async Task A_data_directory_written_before_instances_is_read_as_the_default_instance_and_a_new_instance_leaves_it_alone()
    {
        using var temp = new ReleaseTools.Testing.TempDirectory("rt-old-data");
        var data = temp.Combine("data");
        // The layout and records as agents wrote them before section 4.1 (one instance per service).
        var package = Encoding.UTF8.GetBytes("the 1.0.0 package");
        var md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(package));
        var config = Encoding.UTF8.GetBytes("port: 8081\n");
        var configMd5 = FVersion.ConfigIdentity(config);
        var fversion = FVersion.Compute("web", "prod", "1.0.0", configMd5);
        var release = $"1.0.0-{fversion}";
        var web = Path.Combine(data, "services", "web");
        temp.WriteFile($"data/packages/{md5}.pkg", package);
        temp.WriteFile("data/services/web/versions/1.0.0.json", Encoding.UTF8.GetBytes(
            $"{{\"packageMd5\":\"{md5}\",\"fileName\":\"web-1.0.0.bin\",\"bytes\":{package.Length},\"receivedAt\":\"2026-01-01T10:00:00+00:00\"}}"));
        temp.WriteFile($"data/services/web/configs/{fversion}/app.yaml", config);
        temp.WriteFile($"data/services/web/configs/{fversion}.json", Encoding.UTF8.GetBytes(
            $"{{\"version\":\"1.0.0\",\"fileName\":\"app.yaml\",\"md5\":\"{configMd5}\",\"receivedAt\":\"2026-01-01T10:00:00+00:00\"}}"));
        temp.WriteFile($"data/services/web/active.json", Encoding.UTF8.GetBytes(
            $"{{\"version\":\"1.0.0\",\"fversion\":\"{fversion}\",\"packageMd5\":\"{md5}\",\"configFile\":\"app.yaml\",\"activatedAt\":\"2026-01-01T10:01:00+00:00\"," +
            $"\"previousVersion\":null,\"previousFVersion\":null,\"history\":[{{\"version\":\"1.0.0\",\"fversion\":\"{fversion}\",\"activatedAt\":\"2026-01-01T10:01:00+00:00\"}}]}}"));
        temp.WriteFile($"data/services/web/releases/{release}/web-1.0.0.bin", package);
        temp.WriteFile($"data/services/web/releases/{release}/app.yaml", config);
        temp.WriteFile($"data/services/web/releases/{release}.package", Encoding.UTF8.GetBytes(md5));
        Directory.CreateSymbolicLink(Path.Combine(web, "current"), Path.Combine("releases", release));

        await using var harness = await AgentHarness.StartAsync(o => o with { DataDirectory = data });
        using var client = harness.CreateClient();
        var oldPing = await client.PingAsync(harness.Endpoint, new PingRequest { Service = "web", Version = "1.0.0", FVersion = fversion, PackageMd5 = md5 }, None);
        var second = TestRelease.Create(harness.Temp, "web", "2.0.0");
        await second.DeployAsync(client, harness.Endpoint with { AgentInstance = "port-8082" });
        var status = await client.GetStatusAsync(harness.Endpoint, None);

        Assert.Equal(("1.0.0", fversion, false, false), (oldPing.CurrentVersion, oldPing.CurrentFVersion, oldPing.NeedPackage, oldPing.NeedConfig));
        Assert.Equal(new[] { ("web", (string?)null, (string?)"1.0.0"), ("web", "port-8082", "2.0.0") },
            status.Services.Select(s => (s.Service, s.Instance, s.ActiveVersion)).ToArray());
        Assert.Equal(release, Path.GetFileName(new DirectoryInfo(Path.Combine(web, "current")).LinkTarget));
        Assert.True(File.Exists(Path.Combine(data, "packages", md5 + ".pkg")));

        // The default instance goes on as before: a second release reaches it with the 1.0 targets' meaning unchanged.
        var next = TestRelease.Create(harness.Temp, "web", "1.1.0");
        await next.DeployAsync(client, harness.Endpoint);
        var active = JsonSerializer.Deserialize<JsonElement>(File.ReadAllText(Path.Combine(web, "active.json")));
        Assert.Equal(("1.1.0", "1.0.0"), (active.GetProperty("version").GetString(), active.GetProperty("previousVersion").GetString()));
    }

    [Fact]
    public async Task Health_lists_the_instances_feature()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();

        var health = await client.CheckHealthAsync(harness.Endpoint, None);
        var raw = JsonSerializer.Deserialize<HealthBody>((await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Get, new Uri(harness.Agent.BaseUri, "/health"),
            Array.Empty<byte>(), "application/json", null))).Text, FloydJson.Options)!;

        Assert.True(health.SupportsInstances);
        Assert.Equal(new[] { FloydProtocol.InstancesFeature }, raw.Features);
    }
}
