using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ReleaseTools.Engine.Tests.Packages;

/// <summary>
/// A tiny package server on 127.0.0.1 (ephemeral port) for tests: serves byte arrays by path, counts every GET and
/// HEAD per path, and can refuse HEAD like some artifact stores do.
/// </summary>
public sealed class PackageServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _gets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _heads = new(StringComparer.Ordinal);
    private readonly WebApplication _app;

    private PackageServer(WebApplication app)
    {
        _app = app;
    }

    public Uri BaseUri { get; private set; } = null!;

    /// <summary>When set, every HEAD gets this status (405 for servers without HEAD, 403 for GET-only presigned URLs).</summary>
    public int? HeadStatus { get; set; }

    public static async Task<PackageServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new PackageServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUri = new Uri(address.Replace("[::]", "127.0.0.1"));
        return server;
    }

    public string Add(string path, byte[] content)
    {
        _files["/" + path.TrimStart('/')] = content;
        return Url(path);
    }

    public string Url(string path) => new Uri(BaseUri, path.TrimStart('/')).AbsoluteUri;

    public int Gets(string path) => _gets.TryGetValue("/" + path.TrimStart('/'), out var n) ? n : 0;

    public int Heads(string path) => _heads.TryGetValue("/" + path.TrimStart('/'), out var n) ? n : 0;

    public int TotalGets => _gets.Values.Sum();

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        var isHead = HttpMethods.IsHead(context.Request.Method);
        (isHead ? _heads : _gets).AddOrUpdate(path, 1, (_, n) => n + 1);
        if (isHead && HeadStatus.HasValue)
        {
            context.Response.StatusCode = HeadStatus.Value;
            return;
        }

        if (!_files.TryGetValue(path, out var content))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = content.Length;
        if (!isHead)
        {
            await context.Response.Body.WriteAsync(content);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
