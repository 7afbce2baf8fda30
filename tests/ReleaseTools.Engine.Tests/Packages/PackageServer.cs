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
/// HEAD per path, and can refuse HEAD like some artifact stores do. With <see cref="SendETag"/> or
/// <see cref="SendLastModified"/> it validates as an artifact store does: an ETag derived from the bytes (changing
/// when they change), a Last-Modified of when they were added, and 304 Not Modified to a matching conditional GET.
/// </summary>
public sealed class PackageServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _gets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _heads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _added = new(StringComparer.Ordinal);
    private long _bodyBytesSent;
    private int _notModified;
    private readonly WebApplication _app;

    private PackageServer(WebApplication app)
    {
        _app = app;
    }

    public Uri BaseUri { get; private set; } = null!;

    /// <summary>When set, every HEAD gets this status (405 for servers without HEAD, 403 for GET-only presigned URLs).</summary>
    public int? HeadStatus { get; set; }

    /// <summary>Send an ETag (the bytes' SHA-256, quoted; weak when <see cref="WeakETag"/>) and honour If-None-Match.</summary>
    public bool SendETag { get; set; }

    public bool WeakETag { get; set; }

    /// <summary>Send Last-Modified (when the path was last given bytes) and honour If-Modified-Since.</summary>
    public bool SendLastModified { get; set; }

    /// <summary>Package bytes written in GET answers so far.</summary>
    public long BodyBytesSent => Interlocked.Read(ref _bodyBytesSent);

    /// <summary>GETs answered 304 Not Modified so far.</summary>
    public int NotModifiedAnswers => Volatile.Read(ref _notModified);

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
        // HTTP dates have whole seconds: a replacement must look newer than what it replaces.
        _added.AddOrUpdate("/" + path.TrimStart('/'), DateTimeOffset.UtcNow, (_, before) => DateTimeOffset.UtcNow > before.AddSeconds(1) ? DateTimeOffset.UtcNow : before.AddSeconds(1));
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

        var etag = (WeakETag ? "W/" : "") + "\"" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(content)) + "\"";
        var added = _added[path];
        var lastModified = added.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (SendETag)
        {
            context.Response.Headers.ETag = etag;
        }

        if (SendLastModified)
        {
            context.Response.Headers.LastModified = lastModified;
        }

        var ifNoneMatch = context.Request.Headers.IfNoneMatch.ToString();
        var ifModifiedSince = context.Request.Headers.IfModifiedSince.ToString();
        var unchanged = SendETag && ifNoneMatch.Length > 0
            ? ifNoneMatch.Split(',').Any(tag => tag.Trim().Replace("W/", "") == etag.Replace("W/", ""))
            : SendLastModified && ifModifiedSince.Length > 0 && DateTimeOffset.TryParse(ifModifiedSince, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out var since) && added.ToUnixTimeSeconds() <= since.ToUnixTimeSeconds();
        if (!isHead && unchanged)
        {
            Interlocked.Increment(ref _notModified);
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = content.Length;
        if (!isHead)
        {
            await context.Response.Body.WriteAsync(content);
            Interlocked.Add(ref _bodyBytesSent, content.Length);
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
