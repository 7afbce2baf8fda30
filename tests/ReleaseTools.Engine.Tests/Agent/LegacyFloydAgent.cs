using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// An agent of the original protocol (1.0) on loopback, as deployed fleets still run it: /health says nothing of a
/// protocol, and every signed request is verified with the original formula over the request target exactly as sent.
/// It keeps what it received so a test can see what a 1.0 agent would have been given.
/// </summary>
internal sealed class LegacyFloydAgent : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LegacyFloydAgent(WebApplication app, Uri baseUri)
    {
        _app = app;
        BaseUri = baseUri;
    }

    public Uri BaseUri { get; }

    public ConcurrentQueue<string> VerifiedTargets { get; } = new();

    public ConcurrentQueue<string> Refusals { get; } = new();

    /// <summary>The body of every verified ping, as sent.</summary>
    public ConcurrentQueue<string> PingBodies { get; } = new();

    public static async Task<LegacyFloydAgent> StartAsync(RSA trustedKey)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        LegacyFloydAgent? agent = null;
        app.Run(async context =>
        {
            var target = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
            if (context.Request.Path == FloydProtocol.HealthPath)
            {
                await context.Response.WriteAsJsonAsync(new { status = "ok", agentVersion = "0.9.0", hashAlgorithm = "sha1" });
                return;
            }

            var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var authorization = context.Request.Headers.Authorization.ToString().Split(' ');
            var hash = FloydSignatureBase.ComputeHash(FloydHashAlgorithm.Sha1, body.ToArray(), context.Request.Headers["TimeStamp"].ToString(), target);
            if (authorization.Length != 2 || !FloydRequestSigner.Verify(FloydHashAlgorithm.Sha1, hash, Convert.FromBase64String(authorization[1]), new[] { trustedKey }))
            {
                agent!.Refusals.Enqueue(target);
                context.Response.StatusCode = 401;
                await context.Response.WriteAsJsonAsync(new { error = "signature_invalid", message = "bad signature" });
                return;
            }

            agent!.VerifiedTargets.Enqueue(target);
            if (context.Request.Path == FloydProtocol.PingPath)
            {
                agent.PingBodies.Enqueue(System.Text.Encoding.UTF8.GetString(body.ToArray()));
            }

            object answer = context.Request.Path.Value switch
            {
                FloydProtocol.PingPath => new PingResponseBody { NeedPackage = true, NeedConfig = true },
                FloydProtocol.PackagePath => new PackageReceiptBody { Md5 = "", Bytes = 0 },
                FloydProtocol.ConfigPath => new ConfigReceiptBody(),
                _ => new ActivateResponseBody { HealthCheck = "none" },
            };
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(answer, answer.GetType(), FloydJson.Options));
        });
        await app.StartAsync();
        var address = app.Urls.First();
        agent = new LegacyFloydAgent(app, new Uri(address));
        return agent;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
