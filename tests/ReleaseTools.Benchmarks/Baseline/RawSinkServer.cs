using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace ReleaseTools.Benchmarks.Baseline;

/// <summary>
/// The physical baseline for fan-out: a loopback endpoint that writes whatever body it receives to disk and does no
/// protocol work at all (no signature, no checksum, no multipart). ReleaseTools cannot beat it; the ratio against it
/// says how much the protocol and the engine cost on top of moving the bytes.
/// </summary>
public sealed class RawSinkServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RawSinkServer(WebApplication app, string dataDirectory, Uri baseUri)
    {
        _app = app;
        DataDirectory = dataDirectory;
        BaseUri = baseUri;
    }

    public string DataDirectory { get; }
    public Uri BaseUri { get; }

    public static async Task<RawSinkServer> StartAsync(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        var counter = 0;
        app.MapPost("/upload", async (HttpContext context) =>
        {
            var path = Path.Combine(dataDirectory, $"upload-{Interlocked.Increment(ref counter)}.bin");
            await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                await context.Request.Body.CopyToAsync(file, 81920, context.RequestAborted);
            }

            return Results.Ok();
        });
        await app.StartAsync();
        var address = app.Urls.First();
        return new RawSinkServer(app, dataDirectory, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
