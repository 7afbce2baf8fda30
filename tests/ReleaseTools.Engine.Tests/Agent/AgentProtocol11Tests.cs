using System.Net;
using System.Text;
using System.Text.Json;
using ReleaseTools.Engine.Floyd;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// Protocol 1.1 against real agents on loopback: the agent says which protocol it speaks and who it is, signed
/// requests are bound to one agent and to their multipart framing, and the client still deploys to a 1.0 agent.
/// </summary>
public sealed class AgentProtocol11Tests
{
    [Fact]
    public async Task Health_says_protocol_1_1_and_the_agent_id_and_every_answer_carries_the_protocol_header()
    {
        await using var harness = await AgentHarness.StartAsync();

        var health = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Get, new Uri(harness.Agent.BaseUri, "/health"), Array.Empty<byte>(), "application/json", null));
        using var client = harness.CreateClient();
        var parsed = await client.CheckHealthAsync(harness.Endpoint, CancellationToken.None);
        using var http = new HttpClient();
        using var refused = await http.PostAsync(new Uri(harness.Agent.BaseUri, "/ping"), new ByteArrayContent(Array.Empty<byte>()));

        using var json = JsonDocument.Parse(health.Text);
        Assert.Equal("1.1", json.RootElement.GetProperty("protocol").GetString());
        Assert.Equal(harness.Agent.AgentId, json.RootElement.GetProperty("agentId").GetString());
        Assert.Equal("1.1", parsed.ProtocolVersion);
        Assert.Equal(harness.Agent.AgentId, parsed.AgentId);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("1.1", refused.Headers.GetValues(FloydProtocol.ProtocolHeader).Single());
    }

    [Fact]
    public async Task The_agent_id_is_generated_once_and_kept_across_restarts()
    {
        string first;
        var dataDirectory = "";
        await using (var harness = await AgentHarness.StartAsync())
        {
            first = harness.Agent.AgentId;
            dataDirectory = harness.DataDirectory;
            await using var restarted = await AgentHarness.StartAsync(o => o with { DataDirectory = dataDirectory, AuthorizedKeyFiles = harness.Options.AuthorizedKeyFiles });
            Assert.Equal(first, restarted.Agent.AgentId);
        }

        Assert.Matches("^[A-Za-z0-9_-]{22}$", first);
    }

    [Theory]
    [InlineData("/ping")]
    [InlineData("/activate")]
    public async Task A_request_signed_for_one_agent_is_refused_by_another_agent_trusting_the_same_key(string path)
    {
        await using var target = await AgentHarness.StartAsync();
        await using var other = await AgentHarness.StartAsync(o => o with { AuthorizedKeyFiles = target.Options.AuthorizedKeyFiles });
        var body = path == "/ping" ? RawFloyd.PingBody("billing") : RawFloyd.Json(new { service = "billing", version = "1.0.0", fversion = "fv1" });
        var signedTarget = target.Target(path);
        var headers = RawFloyd.Sign(target.Keys.Rsa, FloydHashAlgorithm.Sha1, body, signedTarget);

        var replayed = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, new Uri(other.Agent.BaseUri, signedTarget), body, "application/json", headers));

        Assert.Equal(HttpStatusCode.MisdirectedRequest, replayed.Status);
        Assert.Equal(FloydErrorCodes.AgentMismatch, replayed.Error);
        Assert.Contains(other.Agent.AgentId, replayed.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(other.DataDirectory, "services")));
    }

    [Fact]
    public async Task A_request_that_names_no_agent_is_refused()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, new Uri(harness.Agent.BaseUri, "/ping"), body, "application/json",
            RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, "/ping")));

        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.Status);
        Assert.Equal(FloydErrorCodes.AgentMismatch, response.Error);
    }

    [Fact]
    public async Task A_push_whose_content_type_boundary_was_changed_on_the_way_is_refused_and_nothing_is_stored()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = Encoding.ASCII.GetBytes("package bytes\r\n--evil\r\nContent-Disposition: form-data; name=\"service\"\r\n\r\nother\r\n");
        var (body, _) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);
        var target = await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file);
        var headers = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target);

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(target), body, "multipart/form-data; boundary=evil", headers, RawFloyd.Md5Base64(file)));

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.MultipartMalformed, response.Error);
        Assert.Contains("signed URI", response.Message);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task A_config_that_contains_the_first_boundary_drawn_is_sent_with_another_and_stored_whole()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var boundaries = new Queue<string>(new[] { "floyd-collision" });
        client.NewBoundary = () => boundaries.Count > 0 ? boundaries.Dequeue() : "floyd-" + Guid.NewGuid().ToString("N");
        var configText = "listen: 8080\r\n--floyd-collision\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nend: true\n";
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 4096, configText: configText);

        await release.DeployAsync(client, harness.Endpoint);

        var stored = File.ReadAllBytes(Path.Combine(harness.DataDirectory, "services", "billing", "configs", release.FVersion, release.ConfigFileName));
        Assert.Equal(release.Config, stored);
        Assert.Empty(boundaries);
    }

    [Fact]
    public async Task The_client_deploys_to_an_agent_of_the_original_protocol_with_bare_signed_paths()
    {
        using var temp = new ReleaseTools.Testing.TempDirectory("floyd-legacy");
        using var key = System.Security.Cryptography.RSA.Create(2048);
        await using var legacy = await LegacyFloydAgent.StartAsync(key);
        using var client = FloydClient.Create(key);
        var endpoint = new FloydEndpoint { InstanceId = "old-1", Host = legacy.BaseUri.Host, Port = legacy.BaseUri.Port };
        var release = TestRelease.Create(temp, "billing", "1.0.0", packageBytes: 4096);

        var health = await client.CheckHealthAsync(endpoint, CancellationToken.None);
        await release.PushAndActivateAsync(client, endpoint);

        Assert.Equal("1.0", health.ProtocolVersion);
        Assert.Null(health.AgentId);
        Assert.Empty(legacy.Refusals);
        Assert.Equal(new[] { "/ping", "/package", "/config", "/activate" }, legacy.VerifiedTargets.ToArray());
    }

    [Fact]
    public async Task The_client_learns_the_protocol_by_itself_before_its_first_signed_request()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 4096);

        await release.DeployAsync(client, harness.Endpoint);
        var status = await client.GetStatusAsync(harness.Endpoint, CancellationToken.None);

        Assert.Equal("1.0.0", status.Services.Single().ActiveVersion);
    }

    [Fact]
    public async Task A_request_accepted_just_before_a_restart_is_a_replay_just_after_it()
    {
        await using var first = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        var headers = RawFloyd.Sign(first.Keys.Rsa, FloydHashAlgorithm.Sha1, body, first.Target("/ping"));
        var accepted = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, first.Uri("/ping"), body, "application/json", headers));
        await first.Agent.DisposeAsync();

        await using var restarted = await AgentHarness.StartAsync(o => o with { DataDirectory = first.DataDirectory, AuthorizedKeyFiles = first.Options.AuthorizedKeyFiles });
        var replayed = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, new Uri(restarted.Agent.BaseUri, first.Target("/ping")), body, "application/json", headers));
        var fresh = await restarted.PostSignedAsync("/ping", body, key: first.Keys.Rsa);

        Assert.True(accepted.Status == HttpStatusCode.OK, accepted.Text);
        Assert.Equal(first.Agent.AgentId, restarted.Agent.AgentId);
        Assert.Equal(HttpStatusCode.Unauthorized, replayed.Status);
        Assert.Equal(FloydErrorCodes.SignatureReplayed, replayed.Error);
        Assert.True(fresh.Status == HttpStatusCode.OK, fresh.Text);
        Assert.DoesNotContain(headers.Authorization.Split(' ')[1], File.ReadAllText(Path.Combine(first.DataDirectory, "replay.log")));
    }
}
