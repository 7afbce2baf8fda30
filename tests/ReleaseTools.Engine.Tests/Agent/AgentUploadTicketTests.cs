using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;
using ReleaseTools.Testing;
using Xunit;
using Xunit.Abstractions;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// Weakness 4 of the 1.1 review: unauthenticated bytes must not reach the disk. A push is read only with the
/// single-use ticket a signed ping issued for its file (docs/floyd-protocol.md, section 2.5); each attack here is
/// made against a real agent on loopback.
/// </summary>
public sealed class AgentUploadTicketTests
{
    private const int AttackBytes = 64 * 1024 * 1024;
    private readonly ITestOutputHelper _output;

    public AgentUploadTicketTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task A_large_push_with_a_bogus_signature_and_no_ticket_writes_nothing_and_is_not_read()
    {
        using var temp = new TempDirectory("floyd-ticket");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        var dataDirectory = temp.Combine("data");
        await using var agent = await AgentProcess.StartAsync(dataDirectory, new[] { keys.PublicKeyPath });
        var agentId = File.ReadAllText(Path.Combine(dataDirectory, "agent-id")).Trim();
        var incoming = Path.Combine(dataDirectory, "tmp");

        // A request line and headers any scanner could send, then 64 MiB without waiting for 100-continue.
        var head = Encoding.ASCII.GetBytes(
            $"POST /package?agent={agentId}&boundary=b HTTP/1.1\r\nHost: {agent.BaseUri.Authority}\r\n" +
            $"TimeStamp: {FloydTimestamp.Next()}\r\nAuthorization: Floyd-RSA-SHA1 {Convert.ToBase64String(new byte[256])}\r\n" +
            $"Content-Type: multipart/form-data; boundary=b\r\nContent-MD5: {Convert.ToBase64String(new byte[16])}\r\nContent-Length: {AttackBytes}\r\n\r\n");
        using var socket = new TcpClient { SendBufferSize = 64 * 1024 };
        await socket.ConnectAsync(agent.BaseUri.Host, agent.BaseUri.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(head);
        var answer = RawSocket.ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(20));
        var written = 0L;
        var chunk = new byte[64 * 1024];
        var watch = Stopwatch.StartNew();
        while (written < AttackBytes && watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            // A write that cannot complete within a second means nobody reads: the agent is not taking the body.
            using var stalled = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await stream.WriteAsync(chunk, stalled.Token);
                written += chunk.Length;
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
            {
                break;
            }

            Assert.Empty(Directory.GetFiles(incoming));
        }

        var text = await answer;
        var metrics = await new HttpClient().GetStringAsync(new Uri(agent.BaseUri, "/metrics"));
        _output.WriteLine($"the socket took {written / 1048576.0:0.0} MiB of {AttackBytes / 1048576} MiB before the agent stopped it (kernel buffers included)");

        Assert.Equal(401, RawSocket.Status(text));
        Assert.Equal(FloydErrorCodes.UploadTicketInvalid, JsonSerializer.Deserialize<ErrorBody>(RawSocket.Body(text), FloydJson.Options)!.Error);
        Assert.Contains("Connection: close", text);
        Assert.Empty(Directory.GetFiles(incoming));
        Assert.Empty(Directory.GetFiles(Path.Combine(dataDirectory, "packages")));
        // The agent read none of it: nothing reached its request handling, and what the socket took is at most what the
        // kernel buffers on the way hold (a few MiB on loopback), not the 64 MiB sent.
        Assert.DoesNotContain("floyd_received_bytes_total{endpoint=\"/package\"}", metrics);
        Assert.True(written < 16L * 1024 * 1024, $"the agent accepted {written} bytes of a push it had refused");
    }

    [Fact]
    public async Task A_push_with_a_stolen_ticket_but_a_bogus_signature_writes_at_most_the_ticket_size_and_keeps_nothing()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(1000);
        var target = await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file);
        // The attacker saw the ticket but holds no key: 64 MiB behind a file of the ticket's 1000 bytes, sent chunked.
        var (parts, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);
        var padded = parts.Concat(new byte[AttackBytes]).ToArray();
        using var stranger = RSA.Create(2048);
        var request = RawFloyd.Request(HttpMethod.Post, harness.Uri(target), padded, contentType,
            RawFloyd.Sign(stranger, FloydHashAlgorithm.Sha1, padded, target), RawFloyd.Md5Base64(file));
        var chunked = new StreamContent(new MemoryStream(padded));
        foreach (var header in request.Content!.Headers) chunked.Headers.TryAddWithoutValidation(header.Key, header.Value);
        chunked.Headers.ContentLength = null;
        request.Content = chunked;

        RawResponse? response = null;
        try
        {
            response = await RawFloyd.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            // The agent may close the connection while the 64 MiB are still being sent.
        }

        var received = harness.Agent.Metrics.BytesReceived.WithLabels("/package").Value;
        _output.WriteLine($"the agent read {received} bytes of the {padded.Length}-byte body");
        if (response != null)
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
            Assert.Equal(FloydErrorCodes.BodyTooLarge, response.Error);
        }

        Assert.True(received <= file.Length + 16 * 1024, $"the agent read {received} bytes; its ticket allows {file.Length} and 16 KiB of framing");
        Assert.Empty(harness.IncomingFiles());
        Assert.Empty(harness.StoredPackageFiles());
    }

    [Fact]
    public async Task A_ticket_is_single_use_even_under_a_fresh_signature()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(5000);
        var (body, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);
        var target = await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file);

        var first = await harness.PostSignedAsync(target, body, contentType, RawFloyd.Md5Base64(file));
        var again = await harness.PostSignedAsync(target, body, contentType, RawFloyd.Md5Base64(file));

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, again.Status);
        Assert.Equal(FloydErrorCodes.UploadTicketInvalid, again.Error);
        Assert.Contains("already used", again.Message);
    }

    [Fact]
    public async Task A_push_without_a_ticket_is_refused_before_its_body_is_read()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(5000);
        var (body, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);

        var response = await harness.PostSignedAsync("/package", body, contentType, RawFloyd.Md5Base64(file));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.UploadTicketInvalid, response.Error);
        Assert.Equal(0, harness.Agent.Metrics.BytesReceived.WithLabels("/package").Value);
        Assert.Empty(harness.IncomingFiles());
    }

    [Fact]
    public async Task A_ticket_for_other_bytes_or_another_release_or_endpoint_is_refused_and_nothing_is_stored()
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = RandomBytes(5000);
        var other = RandomBytes(5000);
        var (body, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);

        // A ticket for another file's MD5: refused by Content-MD5 before the body is read.
        var otherMd5 = await harness.PostSignedAsync(await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", other), body, contentType, RawFloyd.Md5Base64(file));
        // A ticket for the right MD5 but fewer bytes: the agent stops at the ticket's size.
        var shorter = await harness.PostSignedAsync(await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file, bytes: 4000), body, contentType, RawFloyd.Md5Base64(file));
        // A ticket for more bytes than the file has.
        var longer = await harness.PostSignedAsync(await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file, bytes: 6000), body, contentType, RawFloyd.Md5Base64(file));
        // A ticket for another version of the service.
        var otherVersion = await harness.PostSignedAsync(await harness.PushTargetAsync("/package", "billing", "2.0.0", "fv1", file), body, contentType, RawFloyd.Md5Base64(file));
        // A config ticket used for a package.
        var otherPath = await harness.PostSignedAsync((await harness.PushTargetAsync("/config", "billing", "1.0.0", "fv1", file)).Replace("/config?", "/package?"), body, contentType, RawFloyd.Md5Base64(file));

        Assert.Equal((HttpStatusCode.BadRequest, FloydErrorCodes.UploadTicketMismatch), (otherMd5.Status, otherMd5.Error));
        Assert.Equal((HttpStatusCode.BadRequest, FloydErrorCodes.UploadTicketMismatch), (shorter.Status, shorter.Error));
        Assert.Equal((HttpStatusCode.BadRequest, FloydErrorCodes.UploadTicketMismatch), (longer.Status, longer.Error));
        Assert.Equal((HttpStatusCode.BadRequest, FloydErrorCodes.UploadTicketMismatch), (otherVersion.Status, otherVersion.Error));
        Assert.Equal((HttpStatusCode.Unauthorized, FloydErrorCodes.UploadTicketInvalid), (otherPath.Status, otherPath.Error));
        Assert.Empty(harness.StoredPackageFiles());
        Assert.Empty(harness.IncomingFiles());
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(harness.DataDirectory, "services")));
    }

    [Fact]
    public async Task A_ticket_expires_with_the_clock_skew_window()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { ClockSkew = TimeSpan.FromSeconds(1) });
        var file = RandomBytes(1000);
        var (body, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);
        var target = await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file);
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        var response = await harness.PostSignedAsync(target, body, contentType, RawFloyd.Md5Base64(file));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(FloydErrorCodes.UploadTicketInvalid, response.Error);
    }

    [Fact]
    public async Task A_ping_asking_a_ticket_for_a_file_over_the_limit_is_refused_so_nothing_is_sent()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { MaxBodyBytes = 1024 * 1024 });
        var ping = RawFloyd.Json(new PingRequestBody
        {
            Service = "billing", Version = "1.0.0", FVersion = "fv1",
            Upload = new UploadRequestBody { Path = "/package", Md5 = new string('a', 32), Bytes = 1024 * 1024 + 1 },
        });

        var response = await harness.PostSignedAsync("/ping", ping);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
        Assert.Equal(FloydErrorCodes.BodyTooLarge, response.Error);
    }

    [Fact]
    public async Task The_client_asks_a_new_ticket_when_the_agent_forgot_its_own()
    {
        var forget = 1;
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            // As an agent restart between the ticket ping and the push would: the first ticket is no longer known.
            if (context.Request.Path == "/package" && Interlocked.Exchange(ref forget, 0) == 1)
            {
                context.Request.QueryString = new Microsoft.AspNetCore.Http.QueryString(context.Request.QueryString.Value!.Replace("ticket=", "ticket=forgotten"));
            }

            await next();
        }));
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 64 * 1024);

        var result = await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);

        Assert.Equal(release.PackageMd5, result.Md5);
        Assert.Equal(0, forget);
        Assert.Single(harness.StoredPackageFiles());
    }

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }
}
