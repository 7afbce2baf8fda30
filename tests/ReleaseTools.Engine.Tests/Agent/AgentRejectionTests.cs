using System.Net;
using System.Security.Cryptography;
using System.Text;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>Each refusal of the protocol, provoked with hand-made requests against a real agent on loopback.</summary>
public sealed class AgentRejectionTests
{
    [Fact]
    public async Task Signature_made_with_a_key_the_agent_does_not_trust_is_rejected()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var stranger = RSA.Create(2048);
        var body = RawFloyd.PingBody("billing");

        var response = await harness.PostSignedAsync("/ping", body, key: stranger);

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.SignatureInvalid, response.Error);
    }

    [Fact]
    public async Task A_correctly_signed_request_is_accepted()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");

        var response = await harness.PostSignedAsync("/ping", body);

        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Contains("\"needPackage\":true", response.Text);
    }

    [Fact]
    public async Task Tampered_body_is_rejected()
    {
        await using var harness = await AgentHarness.StartAsync();
        var signedBody = RawFloyd.PingBody("billing", version: "1.0.0");
        var tampered = RawFloyd.PingBody("billing", version: "6.6.6");
        Assert.Equal(signedBody.Length, tampered.Length);

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri("/ping"), tampered, "application/json",
            RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, signedBody, harness.Target("/ping"))));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.SignatureInvalid, response.Error);
    }

    [Fact]
    public async Task Tampered_package_bytes_are_rejected_and_nothing_is_stored()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(100_000);
        var (body, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);
        var target = await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file);
        var headers = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target);
        var tampered = (byte[])body.Clone();
        tampered[body.Length - 5000] ^= 0xFF;

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(target), tampered, contentType, headers, RawFloyd.Md5Base64(file)));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.SignatureInvalid, response.Error);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task Signature_over_another_path_is_rejected()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.Json(new { service = "billing", version = "1.0.0", fversion = "fv1" });

        var response = await harness.PostSignedAsync("/activate", body, signedPath: "/ping");

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.SignatureInvalid, response.Error);
    }

    [Theory]
    [InlineData(-10)]
    [InlineData(10)]
    public async Task Timestamp_outside_the_clock_skew_window_is_rejected(int minutesOff)
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        var timestamp = FloydTimestamp.Format(DateTimeOffset.UtcNow.AddMinutes(minutesOff));

        var response = await harness.PostSignedAsync("/ping", body, timestamp: timestamp);

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.TimestampStale, response.Error);
    }

    [Fact]
    public async Task Timestamp_inside_a_configured_window_is_accepted()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { ClockSkew = TimeSpan.FromMinutes(30) });
        var body = RawFloyd.PingBody("billing");
        var timestamp = FloydTimestamp.Format(DateTimeOffset.UtcNow.AddMinutes(-10));

        var response = await harness.PostSignedAsync("/ping", body, timestamp: timestamp);

        Assert.Equal(HttpStatusCode.OK, response.Status);
    }

    [Theory]
    [InlineData("/ping")]
    [InlineData("/package")]
    public async Task Replayed_request_is_rejected(string path)
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(10_000);
        var (body, contentType) = path == "/ping" ? (RawFloyd.PingBody("billing"), "application/json") : RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);
        var target = path == "/ping" ? harness.Target(path) : await harness.PushTargetAsync(path, "billing", "1.0.0", "fv1", file);
        var headers = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target);

        var first = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(target), body, contentType, headers, RawFloyd.Md5Base64(file)));
        var replay = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(target), body, contentType, headers, RawFloyd.Md5Base64(file)));

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, replay.Status);
        Assert.Equal(FloydErrorCodes.SignatureReplayed, replay.Error);
        Assert.Equal(path == "/package" ? 1 : 0, harness.StoredPackageFiles().Length);
    }

    [Fact]
    public async Task Missing_signature_headers_are_rejected()
    {
        await using var harness = await AgentHarness.StartAsync();

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri("/ping"), RawFloyd.PingBody("billing"), "application/json", null));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.SignatureMissing, response.Error);
    }

    [Fact]
    public async Task Unknown_authorization_scheme_is_named_in_the_rejection()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        var (timestamp, authorization) = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, harness.Target("/ping"));

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri("/ping"), body, "application/json",
            (timestamp, "Bearer " + authorization.Split(' ')[1])));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.SignatureAlgorithmMismatch, response.Error);
        Assert.Contains("Floyd-RSA-SHA1", response.Message);
    }

    [Fact]
    public async Task Legacy_bare_signature_without_scheme_is_verified_with_the_configured_algorithm()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        var (timestamp, authorization) = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, harness.Target("/ping"));

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri("/ping"), body, "application/json",
            (timestamp, authorization.Split(' ')[1])));

        Assert.Equal(HttpStatusCode.OK, response.Status);
    }

    [Fact]
    public async Task Md5_mismatch_is_rejected_and_nothing_is_stored()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(300_000);
        var (body, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);
        var claimed = Encoding.UTF8.GetBytes("something else");
        var target = await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file, md5Hex: Convert.ToHexStringLower(MD5.HashData(claimed)));

        var response = await harness.PostSignedAsync(target, body, contentType, RawFloyd.Md5Base64(claimed));

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.PackageMd5Mismatch, response.Error);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
        Assert.False(Directory.Exists(Path.Combine(harness.DataDirectory, "services", "billing", "versions")));
        using var client = harness.CreateClient();
        var ping = await client.PingAsync(harness.Endpoint, new PingRequest { Service = "billing", Version = "1.0.0", FVersion = "fv1" }, CancellationToken.None);
        Assert.True(ping.NeedPackage);
    }

    [Fact]
    public async Task Package_push_without_content_md5_is_rejected()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(1000);
        var (body, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);

        var response = await harness.PostSignedAsync(await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file), body, contentType);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.Md5HeaderInvalid, response.Error);
        Assert.Empty(harness.StoredPackageFiles());
    }

    [Theory]
    [InlineData("../../etc")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("/etc/passwd")]
    [InlineData("..\\windows")]
    [InlineData(".hidden")]
    public async Task Path_traversal_service_name_in_a_ping_is_rejected(string service)
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody(service);

        var response = await harness.PostSignedAsync("/ping", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.InvalidName, response.Error);
    }

    [Fact]
    public async Task Path_traversal_names_in_a_push_are_rejected_and_nothing_is_written()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(5000);
        var outside = Path.GetFullPath(Path.Combine(harness.DataDirectory, ".."));
        var before = Directory.GetFileSystemEntries(outside, "*", SearchOption.AllDirectories).Length;

        foreach (var (service, version) in new[] { ("../escaped", "1.0.0"), ("billing", "../../1.0.0"), ("billing", "1.0.0/../../x") })
        {
            // The ticket is for a sound release; the names inside the body are what the agent must refuse.
            var (body, contentType) = RawFloyd.PackageBody(service, version, "fv1", file);
            var target = await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file);
            var response = await harness.PostSignedAsync(target, body, contentType, RawFloyd.Md5Base64(file));
            Assert.Equal(HttpStatusCode.BadRequest, response.Status);
            Assert.Equal(FloydErrorCodes.InvalidName, response.Error);
        }

        Assert.Equal(before, Directory.GetFileSystemEntries(outside, "*", SearchOption.AllDirectories).Length);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(harness.DataDirectory, "services")));
    }

    [Fact]
    public async Task Config_file_name_that_escapes_is_rejected()
    {
        await using var harness = await AgentHarness.StartAsync();
        var config = Encoding.UTF8.GetBytes("x: 1\n");
        var (body, contentType) = RawFloyd.Multipart(new[] { ("service", "billing"), ("version", "1.0.0"), ("fversion", "fv1") }, "../../evil.yaml", config);

        var response = await harness.PostSignedAsync(await harness.PushTargetAsync("/config", "billing", "1.0.0", "fv1", config), body, contentType);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.InvalidName, response.Error);
        Assert.False(File.Exists(Path.Combine(harness.DataDirectory, "..", "evil.yaml")));
    }

    [Fact]
    public async Task Oversize_package_is_rejected_before_it_is_stored()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { MaxBodyBytes = 64 * 1024 });
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 200 * 1024);

        var error = await Assert.ThrowsAsync<FloydException>(() => client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None));

        Assert.Equal(413, error.StatusCode);
        Assert.Equal(FloydErrorCodes.BodyTooLarge, error.AgentErrorCode);
        Assert.False(error.IsTransient);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task Oversize_body_without_content_length_is_rejected_while_streaming()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { MaxBodyBytes = 64 * 1024 });
        var file = RandomBytes(1000);
        var (parts, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);
        // 200 KiB of preamble before the first boundary: no part, so only the body limit of the ticket can stop it.
        var body = Encoding.ASCII.GetBytes(new string('x', 200 * 1024) + "\r\n").Concat(parts).ToArray();
        var target = await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file);
        var request = RawFloyd.Request(HttpMethod.Post, harness.Uri(target), body, contentType,
            RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target), RawFloyd.Md5Base64(file));
        var chunked = new StreamContent(new MemoryStream(body));
        foreach (var header in request.Content!.Headers) chunked.Headers.TryAddWithoutValidation(header.Key, header.Value);
        chunked.Headers.ContentLength = null;
        request.Content = chunked;
        request.Headers.TransferEncodingChunked = true;

        var response = await RawFloyd.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
        Assert.Equal(FloydErrorCodes.BodyTooLarge, response.Error);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task Oversize_json_body_is_rejected()
    {
        await using var harness = await AgentHarness.StartAsync();
        // Just over the JSON limit, not megabytes over it: the agent answers 413 from the declared length and closes, and a
        // body much larger than the socket buffers was still being written then (the client saw a broken pipe, not the 413).
        var overLimit = (int)new FloydAgentOptions().MaxJsonBytes + 16 * 1024;
        var body = RawFloyd.Json(new { service = "billing", version = "1.0.0", fversion = "fv1", message = new string('x', overLimit) });

        var response = await harness.PostSignedAsync("/ping", body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
        Assert.Equal(FloydErrorCodes.BodyTooLarge, response.Error);
    }

    [Theory]
    [InlineData("not multipart at all", "application/octet-stream")]
    [InlineData("--b\r\nContent-Disposition: form-data; name=\"service\"\r\n\r\nbilling\r\n--b--\r\n", "multipart/form-data; boundary=b")]
    [InlineData("--b\r\nContent-Disposition: form-data; name=\"service\"\r\n\r\nbilling\r\n--b\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0\r\n--b\r\nContent-Disposition: form-data; name=\"fversion\"\r\n\r\nfv\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\ntruncated", "multipart/form-data; boundary=b")]
    [InlineData("--b\r\nContent-Disposition: form-data; name=\"service\"\r\n\r\nbilling\r\n--b\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0\r\n--b\r\nContent-Disposition: form-data; name=\"fversion\"\r\n\r\nfv\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nabc\r\n--b\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\nz\r\n--b--\r\n", "multipart/form-data; boundary=b")]
    public async Task Malformed_multipart_is_rejected(string text, string contentType)
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = Encoding.UTF8.GetBytes(text);
        var target = await harness.PushTargetAsync("/package", "billing", "1.0", "fv", body);

        var response = await harness.PostSignedAsync(target, body, contentType, RawFloyd.Md5Base64(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.MultipartMalformed, response.Error);
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task Health_and_metrics_need_no_signature_and_metrics_count_rejections_by_reason()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        await harness.PostSignedAsync("/ping", body, timestamp: FloydTimestamp.Format(DateTimeOffset.UtcNow.AddHours(-1)));

        var health = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Get, harness.Uri("/health"), Array.Empty<byte>(), "application/json", null));
        var metrics = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Get, harness.Uri("/metrics"), Array.Empty<byte>(), "text/plain", null));

        Assert.Equal(HttpStatusCode.OK, health.Status);
        Assert.Contains("\"status\":\"ok\"", health.Text);
        Assert.Equal(HttpStatusCode.OK, metrics.Status);
        Assert.Contains("floyd_rejections_total{reason=\"timestamp_stale\"} 1", metrics.Text);
        Assert.Contains("floyd_requests_total{endpoint=\"/ping\",status=\"401\"} 1", metrics.Text);
    }

    [Fact]
    public async Task Status_needs_a_signature()
    {
        await using var harness = await AgentHarness.StartAsync();

        var response = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Get, harness.Uri("/status"), Array.Empty<byte>(), "application/json", null));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.SignatureMissing, response.Error);
    }

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }
}
