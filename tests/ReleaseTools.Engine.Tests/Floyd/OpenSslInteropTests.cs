using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Tests.Agent;
using Xunit;

namespace ReleaseTools.Engine.Tests.Floyd;

/// <summary>What the client actually puts on the wire verifies with the openssl command line, independently of our code.</summary>
public sealed class OpenSslInteropTests
{
    [Theory]
    [InlineData(FloydHashAlgorithm.Sha1, "/ping")]
    [InlineData(FloydHashAlgorithm.Sha1, "/package")]
    [InlineData(FloydHashAlgorithm.Sha256, "/ping")]
    [InlineData(FloydHashAlgorithm.Sha256, "/package")]
    public async Task Client_made_signature_verifies_with_openssl_dgst(FloydHashAlgorithm algorithm, string path)
    {
        CapturedRequest? captured = null;
        await using var harness = await AgentHarness.StartAsync(o => o with { HashAlgorithm = algorithm }, app => app.Use(async (context, next) =>
        {
            if (context.Request.Path == path)
            {
                captured = await CapturedRequest.ReadAsync(context);
            }

            await next();
        }));
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0", packageBytes: 200_000);

        if (path == "/ping") await client.PingAsync(harness.Endpoint, release.Ping(), CancellationToken.None);
        else await client.PushPackageAsync(harness.Endpoint, release.Package, CancellationToken.None);

        Assert.NotNull(captured);
        var scheme = algorithm == FloydHashAlgorithm.Sha1 ? "Floyd-RSA-SHA1" : "Floyd-RSA-SHA256";
        Assert.StartsWith(scheme + " ", captured!.Authorization);
        var baseFile = harness.Temp.WriteFile("openssl/base.bin", FloydSignatureBase.Compose(captured.Body, captured.TimeStamp, captured.Target));
        var signatureFile = harness.Temp.WriteFile("openssl/sig.bin", Convert.FromBase64String(captured.Authorization[(scheme.Length + 1)..]));
        var digest = algorithm == FloydHashAlgorithm.Sha1 ? "-sha1" : "-sha256";

        var (exitCode, output) = await RunAsync("openssl", "dgst", digest, "-verify", harness.Keys.PublicKeyPath, "-signature", signatureFile, baseFile);

        Assert.True(exitCode == 0, output);
        Assert.Contains("Verified OK", output);

        // And the check is real: one flipped byte of the base fails it.
        var tampered = File.ReadAllBytes(baseFile);
        tampered[0] ^= 1;
        File.WriteAllBytes(baseFile, tampered);
        var (tamperedExit, _) = await RunAsync("openssl", "dgst", digest, "-verify", harness.Keys.PublicKeyPath, "-signature", signatureFile, baseFile);
        Assert.NotEqual(0, tamperedExit);
    }

    [Theory]
    [InlineData(FloydHashAlgorithm.Sha1, true)]
    [InlineData(FloydHashAlgorithm.Sha256, true)]
    [InlineData(FloydHashAlgorithm.Sha1, false)]
    public async Task One_package_pushed_to_two_agents_is_hashed_once_and_each_request_verifies_with_openssl(FloydHashAlgorithm algorithm, bool shareBodyHash)
    {
        var captured = new System.Collections.Concurrent.ConcurrentDictionary<int, CapturedRequest>();
        Action<IApplicationBuilder> Capture(int agent) => app => app.Use(async (context, next) =>
        {
            if (context.Request.Path == "/package")
            {
                captured[agent] = await CapturedRequest.ReadAsync(context);
            }

            await next();
        });
        await using var first = await AgentHarness.StartAsync(o => o with { HashAlgorithm = algorithm }, Capture(1));
        await using var second = await AgentHarness.StartAsync(o => o with { HashAlgorithm = algorithm, AuthorizedKeyPems = [first.Keys.PublicKeyPem] }, Capture(2));
        using var client = first.CreateClient();
        client.ShareBodyHashes = shareBodyHash;
        var release = TestRelease.Create(first.Temp, "billing", "1.0.0", packageBytes: 300_000);

        var receipts = await Task.WhenAll(
            client.PushPackageAsync(first.Endpoint, release.Package, CancellationToken.None),
            client.PushPackageAsync(second.Endpoint, release.Package, CancellationToken.None));

        // Both agents verified the signature and the MD5 and kept the package.
        Assert.All(receipts, r => Assert.Equal(release.Package.Md5, r.Md5));
        Assert.Equal(shareBodyHash ? 1 : 2, client.BodiesHashed);
        Assert.Equal(2, captured.Count);
        Assert.NotEqual(captured[1].Target, captured[2].Target);
        if (shareBodyHash)
        {
            // One body for both: the boundary was drawn once, only timestamp and target differ per request.
            Assert.Equal(captured[1].Body, captured[2].Body);
        }

        var scheme = algorithm == FloydHashAlgorithm.Sha1 ? "Floyd-RSA-SHA1" : "Floyd-RSA-SHA256";
        var digest = algorithm == FloydHashAlgorithm.Sha1 ? "-sha1" : "-sha256";
        foreach (var (agent, request) in captured)
        {
            var baseFile = first.Temp.WriteFile($"openssl/base-{agent}.bin", FloydSignatureBase.Compose(request.Body, request.TimeStamp, request.Target));
            var signatureFile = first.Temp.WriteFile($"openssl/sig-{agent}.bin", Convert.FromBase64String(request.Authorization[(scheme.Length + 1)..]));
            var (exitCode, output) = await RunAsync("openssl", "dgst", digest, "-verify", first.Keys.PublicKeyPath, "-signature", signatureFile, baseFile);
            Assert.True(exitCode == 0, output);
            Assert.Contains("Verified OK", output);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(File.Exists("/usr/bin/openssl") ? "/usr/bin/openssl" : fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private sealed record CapturedRequest(byte[] Body, string TimeStamp, string Authorization, string Target)
    {
        public static async Task<CapturedRequest> ReadAsync(HttpContext context)
        {
            context.Request.EnableBuffering();
            using var copy = new MemoryStream();
            await context.Request.Body.CopyToAsync(copy);
            context.Request.Body.Position = 0;
            return new CapturedRequest(copy.ToArray(), context.Request.Headers["TimeStamp"].ToString(), context.Request.Headers.Authorization.ToString(),
                context.Features.Get<IHttpRequestFeature>()!.RawTarget);
        }
    }
}
