using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
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
        // The agent runs as its own process, as users run it, so its resident memory can be sampled alone.
        using var temp = new TempDirectory("floyd-fuzz");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        var dataDirectory = temp.Combine("data");
        await using var agent = await AgentProcess.StartAsync(dataDirectory, new[] { keys.PublicKeyPath });
        var target = new FuzzTarget(agent.BaseUri, File.ReadAllText(Path.Combine(dataDirectory, "agent-id")).Trim(), keys, dataDirectory);
        using var client = FloydClient.Create(keys.Rsa);
        var endpoint = new FloydEndpoint { InstanceId = "fuzz", Host = agent.BaseUri.Host, Port = agent.BaseUri.Port };
        var release = TestRelease.Create(temp, "billing", "1.0.0", packageBytes: 8192);
        await release.DeployAsync(client, endpoint);
        var outsideBefore = OutsideDataDirectory(dataDirectory);
        var activeRelease = Path.Combine(dataDirectory, "services", "billing", "releases", release.ReleaseName);
        var activeBefore = Snapshot(activeRelease);
        var rssBaseline = ResidentBytes(agent.ProcessId);
        var rssPeak = rssBaseline;
        var statuses = new Dictionary<int, int>();

        for (var i = 0; i < iterations; i++)
        {
            var request = Mutate(await BaseAsync(target, random), random);
            HttpRequestMessage message;
            try
            {
                message = request.ToMessage(agent.BaseUri);
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
                continue; // the client itself refused to send it, or the agent closed a connection it would not read on
            }
            catch (System.Text.Json.JsonException ex)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed}, request {i} ({request}): the error body is not JSON: {ex.Message}");
            }

            statuses[(int)response.Status] = statuses.GetValueOrDefault((int)response.Status) + 1;
            Assert.True((int)response.Status < 500, $"seed {seed}, request {i} ({request}): {(int)response.Status} {response.Text}");
            Assert.False(agent.HasExited, $"seed {seed}, request {i} ({request}): the agent exited.{Environment.NewLine}{agent.RecentOutput}");
            if (i % 20 == 0)
            {
                rssPeak = Math.Max(rssPeak, ResidentBytes(agent.ProcessId));
                Assert.Equal(outsideBefore, OutsideDataDirectory(dataDirectory));
            }
        }

        rssPeak = Math.Max(rssPeak, ResidentBytes(agent.ProcessId));
        _output.WriteLine($"seed {seed}, {iterations} requests: " + string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}")));
        _output.WriteLine($"agent RSS: {rssBaseline / 1048576.0:0.0} MiB after the first deployment, peak {rssPeak / 1048576.0:0.0} MiB");
        var health = await client.CheckHealthAsync(endpoint, CancellationToken.None);
        var ping = await client.PingAsync(endpoint, release.Ping("after fuzz"), CancellationToken.None);
        Assert.True(health.Healthy);
        Assert.Equal(release.FVersion, ping.CurrentFVersion);
        Assert.Equal(activeBefore, Snapshot(activeRelease));
        Assert.Equal(outsideBefore, OutsideDataDirectory(dataDirectory));
        Assert.Empty(Directory.GetFiles(Path.Combine(dataDirectory, "tmp")));
        // Bodies are streamed or bounded (64 KiB of JSON, a ticket's size for a push), so hundreds of requests, some of
        // them megabytes of junk, must not grow the agent by more than its runtime's own slack.
        Assert.True(rssPeak - rssBaseline < 96L * 1024 * 1024,
            $"the agent grew from {rssBaseline / 1048576.0:0.0} MiB to {rssPeak / 1048576.0:0.0} MiB resident during the fuzz");
    }

    private sealed record FuzzTarget(Uri BaseUri, string AgentId, TestKeys Keys, string DataDirectory);

    /// <summary>Resident memory of the agent process (VmRSS on Linux; the working set elsewhere).</summary>
    private static long ResidentBytes(int processId)
    {
        using var process = System.Diagnostics.Process.GetProcessById(processId);
        process.Refresh();
        return process.WorkingSet64;
    }

    private static string[] Snapshot(string directory) =>
        Directory.GetFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(directory, f) + " " + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))))
            .ToArray();

    private static string[] OutsideDataDirectory(string dataDirectory) =>
        Directory.GetFileSystemEntries(Path.GetDirectoryName(dataDirectory)!, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(dataDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal) && p != dataDirectory)
            .Order(StringComparer.Ordinal).ToArray();

    private static async Task<FuzzRequest> BaseAsync(FuzzTarget target, Random random)
    {
        var file = new byte[random.Next(0, 4096)];
        random.NextBytes(file);
        switch (random.Next(8))
        {
            case 0:
                return Signed(target, "POST", RawFloyd.Target(target.AgentId, "/ping"), RawFloyd.PingBody(random.Next(2) == 0 ? "billing" : "other"), "application/json", null);
            case 1:
            {
                var (service, version, fversion) = ("billing", "2.0." + random.Next(100), "fv" + random.Next(100));
                var (body, type) = RawFloyd.PackageBody(service, version, fversion, file);
                var path = await RawFloyd.PushTargetAsync(target.BaseUri, target.AgentId, target.Keys.Rsa, FloydHashAlgorithm.Sha1, "/package", service, version, fversion, file);
                return Signed(target, "POST", path, body, type, RawFloyd.Md5Base64(file));
            }
            case 2:
            {
                var (body, type) = RawFloyd.Multipart(new[] { ("service", "billing"), ("version", "2.0.0"), ("fversion", "fv2") }, "app.yaml", file);
                var path = await RawFloyd.PushTargetAsync(target.BaseUri, target.AgentId, target.Keys.Rsa, FloydHashAlgorithm.Sha1, "/config", "billing", "2.0.0", "fv2", file);
                return Signed(target, "POST", path, body, type, null);
            }
            case 3:
                return Signed(target, "POST", RawFloyd.Target(target.AgentId, "/activate"), RawFloyd.Json(new { service = "billing", version = "9.9.9", fversion = "fv9" }), "application/json", null);
            case 4:
                return Signed(target, "GET", RawFloyd.Target(target.AgentId, "/status"), Array.Empty<byte>(), "application/json", null);
            case 5:
            {
                // Megabytes of junk, signed or not, at a push without a ticket or at a JSON endpoint: refused before it is read.
                var junk = new byte[random.Next(256 * 1024, 3 * 1024 * 1024)];
                random.NextBytes(junk);
                var path = RawFloyd.Target(target.AgentId, random.Next(2) == 0 ? "/package" : "/ping");
                return random.Next(2) == 0
                    ? Signed(target, "POST", path, junk, "multipart/form-data; boundary=raw-boundary-1234", RawFloyd.Md5Base64(junk))
                    : new FuzzRequest("POST", path, junk, "multipart/form-data; boundary=raw-boundary-1234", new List<(string, string)> { ("TimeStamp", FloydTimestamp.Next()), ("Authorization", "Floyd-RSA-SHA1 AAAA") });
            }
            default:
                return new FuzzRequest(random.Next(2) == 0 ? "GET" : "POST", random.Next(2) == 0 ? "/health" : "/metrics", file, "application/octet-stream", new List<(string, string)>());
        }
    }

    private static FuzzRequest Signed(FuzzTarget target, string method, string pathAndQuery, byte[] body, string contentType, string? md5)
    {
        var (timestamp, authorization) = RawFloyd.Sign(target.Keys.Rsa, FloydHashAlgorithm.Sha1, body, pathAndQuery);
        var headers = new List<(string, string)> { ("TimeStamp", timestamp), ("Authorization", authorization) };
        if (md5 != null) headers.Add(("Content-MD5", md5));
        return new FuzzRequest(method, pathAndQuery, body, contentType, headers);
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
                    target = random.Next(5) switch
                    {
                        0 => target.ToUpperInvariant(),
                        1 => target + "&agent=someone-else",
                        2 => target.Split('?')[0] + "/",
                        3 => target.Replace("ticket=", "ticket=x", StringComparison.Ordinal),
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
