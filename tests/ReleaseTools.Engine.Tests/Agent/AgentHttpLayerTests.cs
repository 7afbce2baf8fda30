using System.Text;
using System.Text.Json;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// Framing errors found while the agent reads a body, and a declared body over the limit, get the section 6 JSON
/// error body, sent with raw sockets to a real agent on loopback; no answer names a framework type.
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
}
