using System.Net;
using System.Text;
using ReleaseTools.Engine.Floyd;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>Requests that an earlier agent read leniently ("last one wins", file first), refused by a real agent on loopback.</summary>
public sealed class AgentProtocolCorrectnessTests
{
    [Fact]
    public async Task A_push_whose_file_part_comes_first_is_malformed_and_stores_nothing()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = Encoding.ASCII.GetBytes("package");
        var (body, contentType) = RawFloyd.Multipart(Array.Empty<(string, string)>(), "pkg.zip", file);

        var response = await harness.PostSignedAsync(await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file), body, contentType, RawFloyd.Md5Base64(file));

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.MultipartMalformed, response.Error);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task A_push_that_repeats_a_field_is_malformed_and_stores_nothing()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = Encoding.ASCII.GetBytes("package");
        var (body, contentType) = RawFloyd.Multipart(new[] { ("service", "billing"), ("version", "1.0.0"), ("fversion", "fv1"), ("service", "other") }, "pkg.zip", file);

        var response = await harness.PostSignedAsync(await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file), body, contentType, RawFloyd.Md5Base64(file));

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.MultipartMalformed, response.Error);
        Assert.Contains("'service'", response.Message);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(harness.DataDirectory, "services")));
    }

    [Fact]
    public async Task A_json_body_that_repeats_a_key_is_refused()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = Encoding.UTF8.GetBytes("{\"service\":\"billing\",\"version\":\"1.0.0\",\"fversion\":\"fv1\",\"service\":\"other\"}");

        var response = await harness.PostSignedAsync("/activate", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.InvalidRequest, response.Error);
        Assert.Contains("twice", response.Message);
        Assert.DoesNotContain("System.", response.Message);
        Assert.DoesNotContain("ReleaseTools.", response.Message);
    }

    [Fact]
    public async Task Post_to_metrics_is_405_with_the_json_error_body()
    {
        await using var harness = await AgentHarness.StartAsync();

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, new Uri(harness.Agent.BaseUri, "/metrics"), Array.Empty<byte>(), "application/json", null));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.Status);
        Assert.Equal(FloydErrorCodes.NotFound, response.Error);
    }

    [Theory]
    [InlineData("/config/")]
    [InlineData("/PING")]
    [InlineData("/Activate")]
    [InlineData("/package/")]
    public async Task A_path_that_differs_in_case_or_by_a_trailing_slash_is_not_an_endpoint(string path)
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, new Uri(harness.Agent.BaseUri, path), body, "application/json", null));

        Assert.Equal(HttpStatusCode.NotFound, response.Status);
        Assert.Equal(FloydErrorCodes.NotFound, response.Error);
    }
}
