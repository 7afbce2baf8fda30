using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ReleaseTools.Engine.Floyd;
using Xunit;
using Xunit.Abstractions;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// A bounded mutation fuzz of a real agent on loopback: valid signed and unsigned requests, changed at random (body
/// bytes, cuts, headers, targets, boundaries), never get a 5xx or a non-JSON error, and leave the active release, the
/// agent's health and everything outside its data directory as they were. Fixed seed and a few hundred requests in CI;
/// RELEASETOOLS_FUZZ_SEED and RELEASETOOLS_FUZZ_ITERATIONS run it longer or differently on demand.
/// </summary>
public sealed class AgentMutationFuzzTests
{
    private readonly ITestOutputHelper _output;

    public AgentMutationFuzzTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Mutated_requests_never_get_a_5xx_and_leave_the_active_release_and_the_outside_alone()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("RELEASETOOLS_FUZZ_SEED"), out var s) ? s : 20261201;
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("RELEASETOOLS_FUZZ_ITERATIONS"), out var n) ? n : 400;
        var random = new Random(seed);
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 8192);
        await release.DeployAsync(client, harness.Endpoint);
        var outsideBefore = OutsideDataDirectory(harness);
        var statuses = new Dictionary<int, int>();

        for (var i = 0; i < iterations; i++)
        {
            var request = Mutate(Base(harness, random), random);
            HttpRequestMessage message;
            try
            {
                message = request.ToMessage(harness.Agent.BaseUri);
            }
            catch (Exception ex) when (ex is FormatException or UriFormatException or InvalidOperationException)
            {
                continue; // a mutation no HTTP client can send
            }

            RawResponse response;
            try
            {
                response = await RawFloyd.SendAsync(message);
            }
            catch (HttpRequestException)
            {
                continue; // the client itself refused to send it
            }
            catch (System.Text.Json.JsonException ex)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed}, request {i} ({request}): the error body is not JSON: {ex.Message}");
            }

            statuses[(int)response.Status] = statuses.GetValueOrDefault((int)response.Status) + 1;
            Assert.True((int)response.Status < 500, $"seed {seed}, request {i} ({request}): {(int)response.Status} {response.Text}");
        }

        _output.WriteLine($"seed {seed}, {iterations} requests: " + string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}")));
        var health = await client.CheckHealthAsync(harness.Endpoint, CancellationToken.None);
        var ping = await client.PingAsync(harness.Endpoint, release.Ping("after fuzz"), CancellationToken.None);
        Assert.True(health.Healthy);
        Assert.Equal(release.FVersion, ping.CurrentFVersion);
        Assert.Equal(outsideBefore, OutsideDataDirectory(harness));
    }

    private static string[] OutsideDataDirectory(AgentHarness harness) =>
        Directory.GetFileSystemEntries(Path.GetDirectoryName(harness.DataDirectory)!, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(harness.DataDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();

    private static FuzzRequest Base(AgentHarness harness, Random random)
    {
        var file = new byte[random.Next(0, 4096)];
        random.NextBytes(file);
        switch (random.Next(6))
        {
            case 0:
                return Signed(harness, "POST", "/ping", RawFloyd.PingBody(random.Next(2) == 0 ? "billing" : "other"), "application/json", null);
            case 1:
            {
                var (body, type) = RawFloyd.PackageBody("billing", "2.0." + random.Next(100), "fv" + random.Next(100), file);
                return Signed(harness, "POST", "/package", body, type, RawFloyd.Md5Base64(file));
            }
            case 2:
            {
                var (body, type) = RawFloyd.Multipart(new[] { ("service", "billing"), ("version", "2.0.0"), ("fversion", "fv2") }, "app.yaml", file);
                return Signed(harness, "POST", "/config", body, type, null);
            }
            case 3:
                return Signed(harness, "POST", "/activate", RawFloyd.Json(new { service = "billing", version = "9.9.9", fversion = "fv9" }), "application/json", null);
            case 4:
                return Signed(harness, "GET", "/status", Array.Empty<byte>(), "application/json", null);
            default:
                return new FuzzRequest(random.Next(2) == 0 ? "GET" : "POST", random.Next(2) == 0 ? "/health" : "/metrics", file, "application/octet-stream", new List<(string, string)>());
        }
    }

    private static FuzzRequest Signed(AgentHarness harness, string method, string path, byte[] body, string contentType, string? md5)
    {
        var (timestamp, authorization) = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, harness.Target(path));
        var headers = new List<(string, string)> { ("TimeStamp", timestamp), ("Authorization", authorization) };
        if (md5 != null) headers.Add(("Content-MD5", md5));
        return new FuzzRequest(method, harness.Target(path), body, contentType, headers);
    }

    private static FuzzRequest Mutate(FuzzRequest request, Random random)
    {
        var body = request.Body.ToArray();
        var headers = request.Headers.ToList();
        var target = request.Target;
        var contentType = request.ContentType;
        for (var m = random.Next(0, 4); m > 0; m--)
        {
            switch (random.Next(8))
            {
                case 0 when body.Length > 0:
                    body[random.Next(body.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when body.Length > 0:
                    body = body[..random.Next(body.Length)];
                    break;
                case 2 when headers.Count > 0:
                    headers.RemoveAt(random.Next(headers.Count));
                    break;
                case 3 when headers.Count > 0:
                {
                    var k = random.Next(headers.Count);
                    var value = headers[k].Item2;
                    var at = random.Next(value.Length + 1);
                    headers[k] = (headers[k].Item1, value[..at] + "AZaz09+/=- \t"[random.Next(12)] + value[at..]);
                    break;
                }
                case 4 when headers.Count > 0:
                    headers.Add(headers[random.Next(headers.Count)]);
                    break;
                case 5:
                    target = random.Next(4) switch
                    {
                        0 => target.ToUpperInvariant(),
                        1 => target + "&agent=someone-else",
                        2 => target.Split('?')[0] + "/",
                        _ => target.Replace("agent=", "agent=x", StringComparison.Ordinal),
                    };
                    break;
                case 6:
                    contentType = random.Next(3) switch
                    {
                        0 => "multipart/form-data; boundary=other",
                        1 => "text/plain",
                        _ => "multipart/form-data",
                    };
                    break;
                default:
                    body = body.Concat(Encoding.ASCII.GetBytes("\r\n--raw-boundary-1234\r\nContent-Disposition: form-data; name=\"service\"\r\n\r\nx\r\n")).ToArray();
                    break;
            }
        }

        return request with { Body = body, Headers = headers, Target = target, ContentType = contentType };
    }

    private sealed record FuzzRequest(string Method, string Target, byte[] Body, string ContentType, List<(string Name, string Value)> Headers)
    {
        public HttpRequestMessage ToMessage(Uri baseUri)
        {
            var message = new HttpRequestMessage(new HttpMethod(Method), new Uri(baseUri, Target));
            if (Method != "GET")
            {
                message.Content = new ByteArrayContent(Body);
                message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(ContentType);
            }

            foreach (var (name, value) in Headers)
            {
                if (name == "Content-MD5")
                {
                    message.Content?.Headers.TryAddWithoutValidation(name, value);
                }
                else
                {
                    message.Headers.TryAddWithoutValidation(name, value);
                }
            }

            return message;
        }

        public override string ToString() => $"{Method} {Target}, {Body.Length} bytes, {ContentType}, headers {string.Join("; ", Headers.Select(h => h.Name))}";
    }
}
