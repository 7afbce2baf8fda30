using System.Net;
using System.Text;
using ReleaseTools.Engine.Floyd;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>Names that would become unsafe or unportable path segments, sent to a real agent on loopback (issue 12, weakness 5).</summary>
public sealed class AgentNameHardeningTests
{
    [Theory]
    [InlineData("svc\n")]
    [InlineData("CON")]
    [InlineData("nul")]
    [InlineData("Com1")]
    [InlineData("LPT9.log")]
    [InlineData("aux.web")]
    [InlineData("svc.")]
    public async Task Unportable_service_name_in_a_ping_is_refused(string service)
    {
        await using var harness = await AgentHarness.StartAsync();

        var response = await harness.PostSignedAsync("/ping", RawFloyd.PingBody(service));

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.InvalidName, response.Error);
    }

    [Theory]
    [InlineData("svc\n", "1.0.0", "fv1", "app.yaml")]
    [InlineData("billing", "1.0.0\n", "fv1", "app.yaml")]
    [InlineData("billing", "1.0.", "fv1", "app.yaml")]
    [InlineData("billing", "1.0.0", "fv1\n", "app.yaml")]
    [InlineData("billing", "1.0.0", "NUL", "app.yaml")]
    [InlineData("billing", "1.0.0", "fv1", "CON.yaml")]
    [InlineData("billing", "1.0.0", "fv1", "app.yaml.")]
    public async Task Config_push_with_a_line_feed_or_unportable_name_is_refused_and_writes_nothing(string service, string version, string fversion, string fileName)
    {
        await using var harness = await AgentHarness.StartAsync();
        var config = Encoding.UTF8.GetBytes("x: 1\n");
        var (body, contentType) = RawFloyd.Multipart(new[] { ("service", service), ("version", version), ("fversion", fversion) }, fileName, config);
        // The ticket is for sound names; the names inside the body are what the agent must refuse.
        var target = await harness.PushTargetAsync("/config", "billing", "1.0.0", "fv1", config);

        var response = await harness.PostSignedAsync(target, body, contentType);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.InvalidName, response.Error);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(harness.DataDirectory, "services")));
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task Package_push_for_a_case_twin_of_an_existing_service_is_refused()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 4096);
        await release.DeployAsync(client, harness.Endpoint);
        var file = new byte[2048];
        new Random(12).NextBytes(file);
        var (body, contentType) = RawFloyd.PackageBody("Billing", "2.0.0", "fv2", file);
        var target = await harness.PushTargetAsync("/package", "Billing", "2.0.0", "fv2", file);

        var response = await harness.PostSignedAsync(target, body, contentType, RawFloyd.Md5Base64(file));

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.InvalidName, response.Error);
        Assert.Contains("'billing'", response.Message);
        Assert.Equal(new[] { "billing" }, Directory.GetDirectories(Path.Combine(harness.DataDirectory, "services")).Select(Path.GetFileName));
        Assert.Single(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task Agent_refuses_to_start_with_an_authorized_key_under_2048_bits()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            AgentHarness.StartAsync(o => o with { AuthorizedKeyPems = new[] { System.Security.Cryptography.RSA.Create(1024).ExportSubjectPublicKeyInfoPem() } }));

        Assert.Contains("1024 bits", error.Message);
        Assert.Contains("2048", error.Message);
    }
}
