using System.Text;
using System.Text.Json;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// Framing errors found while the agent reads a body, a declared body over the limit, and what the HTTP server refuses
/// before the agent's code sees it (request line, headers, their size, the HTTP version, their timeout) get the
/// section 6 JSON error body, sent with raw sockets to a real agent on loopback; no answer names a framework type.
/// </summary>
public sealed class AgentHttpLayerTests
{
    [Fact]
    public async Task Broken_chunked_framing_of_a_signed_request_is_a_json_invalid_request()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        var target = harness.Target("/ping");
        var (timestamp, authorization) = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target);
        var request = $"POST {target} HTTP/1.1\r\nHost: x\r\nTimeStamp: {timestamp}\r\nAuthorization: {authorization}\r\n" +
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";

        var answer = await RawSocket.ExchangeAsync(harness.Agent.BaseUri, Encoding.ASCII.GetBytes(request));

        Assert.Equal(400, RawSocket.Status(answer));
        var error = JsonSerializer.Deserialize<ErrorBody>(RawSocket.Body(answer), FloydJson.Options)!;
        Assert.Equal(FloydErrorCodes.InvalidRequest, error.Error);
        Assert.DoesNotContain("System.", error.Message);
        Assert.DoesNotContain("Microsoft.", error.Message);
    }

    [Fact]
    public async Task A_declared_body_over_the_json_limit_is_a_json_413_before_it_is_read()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        var target = harness.Target("/ping");
        var (timestamp, authorization) = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target);
        var request = $"POST {target} HTTP/1.1\r\nHost: x\r\nTimeStamp: {timestamp}\r\nAuthorization: {authorization}\r\n" +
                      "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n";

        var answer = await RawSocket.ExchangeAsync(harness.Agent.BaseUri, Encoding.ASCII.GetBytes(request));

        Assert.Equal(413, RawSocket.Status(answer));
        Assert.Equal(FloydErrorCodes.BodyTooLarge, JsonSerializer.Deserialize<ErrorBody>(RawSocket.Body(answer), FloydJson.Options)!.Error);
    }

    [Theory]
    [InlineData("request line", 400, FloydErrorCodes.InvalidRequest)]
    [InlineData("header", 400, FloydErrorCodes.InvalidRequest)]
    [InlineData("two content lengths", 400, FloydErrorCodes.InvalidRequest)]
    [InlineData("20 KB request target", 414, FloydErrorCodes.RequestTargetTooLong)]
    [InlineData("100 KB header", 431, FloydErrorCodes.HeadersTooLarge)]
    [InlineData("101 headers", 431, FloydErrorCodes.HeadersTooLarge)]
    [InlineData("HTTP/3.0", 505, FloydErrorCodes.HttpVersionNotSupported)]
    public async Task A_request_the_http_server_refuses_gets_the_json_error_body(string what, int status, string error)
    {
        await using var harness = await AgentHarness.StartAsync();
        var request = what switch
        {
            "request line" => "GET /health HTTP/1.1 trailing\r\nHost: x\r\n\r\n",
            "header" => "GET /health HTTP/1.1\r\nHost: x\r\nA header without a colon\r\n\r\n",
            "two content lengths" => "POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            "20 KB request target" => $"GET /health?padding={new string('a', 20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n",
            "100 KB header" => $"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: {new string('a', 100 * 1024)}\r\n\r\n",
            "101 headers" => "GET /health HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 101).Select(i => $"X-Header-{i}: {i}\r\n")) + "\r\n",
            _ => "GET /health HTTP/3.0\r\nHost: x\r\n\r\n",
        };

        var answer = await RawSocket.ExchangeAsync(harness.Agent.BaseUri, Encoding.ASCII.GetBytes(request));

        AssertJsonError(answer, status, error);
        Assert.Equal("close", RawSocket.Header(answer, "Connection"));
    }

    [Fact]
    public async Task An_http2_client_on_plain_http_is_told_in_http2_to_use_http_1_1()
    {
        // An HTTP/2 client reads frames, not an HTTP/1.1 response: the server answers its preface with the HTTP/2
        // GOAWAY frame HTTP_1_1_REQUIRED (RFC 9113, 7), which section 6 names as the one refusal without a JSON body.
        await using var harness = await AgentHarness.StartAsync();
        byte[] goAwayHttp11Required = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0d];

        var answer = await RawSocket.ExchangeAsync(harness.Agent.BaseUri, Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));

        Assert.Equal(goAwayHttp11Required, Encoding.UTF8.GetBytes(answer));
    }

    [Fact]
    public async Task Over_https_a_refusal_of_the_http_server_gets_the_json_error_body_too()
    {
        using var certificate = AgentTlsTests.SelfSigned();
        using var files = new ReleaseTools.Testing.TempDirectory("floyd-tls");
        var pfx = files.Combine("agent.pfx");
        File.WriteAllBytes(pfx, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12, (string?)null));
        await using var harness = await AgentHarness.StartAsync(o => o with { Urls = new[] { "https://127.0.0.1:0" }, TlsCertificatePath = pfx });
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(harness.Agent.BaseUri.Host, harness.Agent.BaseUri.Port);
        await using var tls = new System.Net.Security.SslStream(socket.GetStream(), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync("127.0.0.1");

        // Over TLS the version is settled by ALPN, so an HTTP/2 preface there is only an HTTP/1.1 request of an unknown version.
        await tls.WriteAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        var answer = await RawSocket.ReadUntilClosedAsync(tls, TimeSpan.FromSeconds(30));

        AssertJsonError(answer, 505, FloydErrorCodes.HttpVersionNotSupported);
    }

    [Fact]
    public async Task Headers_that_do_not_arrive_in_time_get_a_json_408()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { RequestHeadersTimeout = TimeSpan.FromSeconds(1) });
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(harness.Agent.BaseUri.Host, harness.Agent.BaseUri.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /health HTTP/1.1\r\nHost: x\r\n"));

        // The agent answers after its 1 s timeout and closes; the bound is only for a agent that never does.
        var answer = await RawSocket.ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(60));

        AssertJsonError(answer, 408, FloydErrorCodes.RequestTimeout);
        Assert.Contains("1 s", JsonSerializer.Deserialize<ErrorBody>(RawSocket.Body(answer), FloydJson.Options)!.Message);
    }

    [Fact]
    public async Task A_body_that_stops_arriving_gets_a_json_408_that_names_no_server_setting()
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        var target = harness.Target("/ping");
        var (timestamp, authorization) = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target);
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(harness.Agent.BaseUri.Host, harness.Agent.BaseUri.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {target} HTTP/1.1\r\nHost: x\r\nTimeStamp: {timestamp}\r\nAuthorization: {authorization}\r\n" +
                                                        $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"));
        await stream.WriteAsync(body.AsMemory(0, 10));

        // The server's minimum body rate applies after a 5 s grace; the bound is only for an agent that never answers.
        var answer = await RawSocket.ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(60));

        Assert.Equal(408, RawSocket.Status(answer));
        var error = JsonSerializer.Deserialize<ErrorBody>(RawSocket.Body(answer), FloydJson.Options)!;
        Assert.Equal(FloydErrorCodes.RequestTimeout, error.Error);
        Assert.DoesNotContain("MinRequestBodyDataRate", error.Message);
        Assert.Contains("too slowly", error.Message);
    }

    [Fact]
    public async Task A_refused_request_after_an_answered_one_on_the_same_connection_gets_the_json_error_body_too()
    {
        await using var harness = await AgentHarness.StartAsync();
        var requests = "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/9.9\r\nHost: x\r\n\r\n";

        var answer = await RawSocket.ExchangeAsync(harness.Agent.BaseUri, Encoding.ASCII.GetBytes(requests));

        var third = answer.IndexOf("\r\n\r\nHTTP/1.1 505 ", StringComparison.Ordinal) + 4;
        Assert.True(third > 4, answer);
        Assert.Equal(200, RawSocket.Status(answer));
        Assert.Contains("\"status\":\"ok\"", answer[..third]);
        Assert.Contains("floyd_requests_total", answer[..third]);
        AssertJsonError(answer[third..], 505, FloydErrorCodes.HttpVersionNotSupported);
    }

    [Fact]
    public async Task The_http_servers_refusals_are_counted_by_their_error_code()
    {
        await using var harness = await AgentHarness.StartAsync();

        await RawSocket.ExchangeAsync(harness.Agent.BaseUri, Encoding.ASCII.GetBytes("GET /health HTTP/3.0\r\nHost: x\r\n\r\n"));

        var metrics = await RawSocket.ExchangeAsync(harness.Agent.BaseUri, Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        Assert.Contains("floyd_rejections_total{reason=\"http_version_not_supported\"} 1", RawSocket.Body(metrics));
        Assert.Contains("floyd_requests_total{endpoint=\"other\",status=\"505\"} 1", RawSocket.Body(metrics));
    }

    [Theory]
    [InlineData("/ping", "{\"service\":5,\"version\":\"1.0.0\",\"fversion\":\"fv1\"}", "$.service")]
    [InlineData("/ping", "{\"service\":\"billing\",\"version\":\"1.0.0\",\"fversion\":\"fv1\",\"upload\":{\"path\":\"/package\",\"md5\":\"00000000000000000000000000000000\",\"bytes\":\"many\"}}", "$.upload.bytes")]
    [InlineData("/ping", "{\"service\":\"billing\",\"version\":\"1.0.0\",\"fversion\":\"fv1\",\"upload\":{\"path\":\"/package\",\"md5\":\"00000000000000000000000000000000\",\"bytes\":1e40}}", "$.upload.bytes")]
    [InlineData("/ping", "{\"service\":\"billing\",\"version\":\"1.0.0\",\"fversion\":\"fv1\",\"upload\":[1]}", "$.upload")]
    [InlineData("/activate", "{\"service\":\"billing\",\"version\":\"1.0.0\",\"fversion\":\"fv1\",\"reactivate\":\"yes\"}", "$.reactivate")]
    [InlineData("/activate", "[\"billing\"]", "$")]
    [InlineData("/activate", "\"billing\"", "$")]
    [InlineData("/activate", "{\"service\":\"billing\"", "$")]
    [InlineData("/activate", "", "")]
    [InlineData("/activate", "null", "")]
    public async Task A_json_body_of_the_wrong_shape_is_invalid_request_naming_where_not_a_type(string path, string json, string where)
    {
        await using var harness = await AgentHarness.StartAsync();

        var response = await harness.PostSignedAsync(path, Encoding.UTF8.GetBytes(json));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(FloydErrorCodes.InvalidRequest, response.Error);
        Assert.Contains(where, response.Message);
        foreach (var typeName in new[] { "System.", "Microsoft.", "ReleaseTools.", "Int64", "Boolean", "String", "Body" })
        {
            Assert.DoesNotContain(typeName, response.Message);
        }
    }

    /// <summary>Status, content type and length, the protocol header and a section 6 body whose message names no framework type.</summary>
    private static void AssertJsonError(string answer, int status, string error)
    {
        Assert.Equal(status, RawSocket.Status(answer));
        Assert.StartsWith("application/json", RawSocket.Header(answer, "Content-Type"));
        Assert.Equal(FloydProtocol.Version, RawSocket.Header(answer, FloydProtocol.ProtocolHeader));
        var body = RawSocket.Body(answer);
        Assert.Equal(Encoding.UTF8.GetByteCount(body).ToString(System.Globalization.CultureInfo.InvariantCulture), RawSocket.Header(answer, "Content-Length"));
        var parsed = JsonSerializer.Deserialize<ErrorBody>(body, FloydJson.Options)!;
        Assert.Equal(error, parsed.Error);
        Assert.False(string.IsNullOrWhiteSpace(parsed.Message));
        foreach (var typeName in new[] { "System.", "Microsoft.", "ReleaseTools." })
        {
            Assert.DoesNotContain(typeName, parsed.Message);
        }
    }
}
