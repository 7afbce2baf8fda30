using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReleaseTools.Agent.Hosting;

namespace ReleaseTools.Benchmarks.Sink;

/// <summary>
/// The physical baseline for fan-out: a loopback endpoint that writes whatever body it receives to disk and does no
/// protocol work at all (no signature, no checksum, no multipart). ReleaseTools cannot beat it; the ratio against it
/// says how much the protocol and the engine cost on top of moving the bytes.
/// With <see cref="SinkWork.MandatoryHashes"/> it is the floor of what a Floyd agent must spend: the same write, plus
/// the signature hash (SHA-1) and the MD5 over every byte, which no correct agent can skip.
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

    public static async Task<RawSinkServer> StartAsync(string dataDirectory, SinkWork work = SinkWork.WriteOnly)
    {
        Directory.CreateDirectory(dataDirectory);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        // The agent's socket reads (128 KiB, not Kestrel's 4 KiB): the baseline moves bytes no worse than the agent does.
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPool.Factory>();
        var app = builder.Build();
        var counter = 0;
        app.MapPost("/upload", async (HttpContext context) =>
        {
            var path = Path.Combine(dataDirectory, $"upload-{Interlocked.Increment(ref counter)}.bin");
            using var signatureHash = work == SinkWork.MandatoryHashes ? IncrementalHash.CreateHash(HashAlgorithmName.SHA1) : null;
            using var md5 = work == SinkWork.MandatoryHashes ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
            var buffer = new byte[81920];
            await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                int read;
                while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
                {
                    signatureHash?.AppendData(buffer, 0, read);
                    md5?.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                }
            }

            return Results.Text(md5 == null ? "" : Convert.ToHexString(md5.GetHashAndReset()) + " " + Convert.ToHexString(signatureHash!.GetHashAndReset()));
        });
        await app.StartAsync();
        var address = new Uri(app.Urls.First());
        await RehearseAsync(address, dataDirectory);
        return new RawSinkServer(app, dataDirectory, address);
    }

    /// <summary>
    /// The sink's counterpart of the agent's start-up rehearsal: one upload of 256 KiB to itself before it reports its
    /// address, so its first measured upload compiles no more than the agent's first push does, and the floor measures
    /// the work rather than a cold start the agent no longer pays. The rehearsal's file is removed.
    /// </summary>
    private static async Task RehearseAsync(Uri address, string dataDirectory)
    {
        var body = new byte[256 * 1024];
        RandomNumberGenerator.Fill(body);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };
        using (var response = await http.PostAsync(new Uri(address, "/upload"), new ByteArrayContent(body)))
        {
            response.EnsureSuccessStatusCode();
        }

        foreach (var file in Directory.EnumerateFiles(dataDirectory, "upload-*.bin"))
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Runs inside a sink process of its own (<c>ReleaseTools.Benchmarks.Sink --sink-work write|hashes --dir D</c>): prints its address,
    /// then serves until its standard input closes.
    /// </summary>
    public static async Task<int> RunChildAsync(string dataDirectory, SinkWork work)
    {
        await using var sink = await StartAsync(dataDirectory, work);
        Console.WriteLine($"{ListeningPrefix}{sink.BaseUri}");
        await Console.In.ReadToEndAsync();
        return 0;
    }

    public const string ListeningPrefix = "sink listening on ";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public enum SinkWork
{
    /// <summary>Only writes the body: the raw HTTP baseline.</summary>
    WriteOnly,

    /// <summary>Writes the body and computes the signature hash and the MD5 over it: the mandatory-work floor.</summary>
    MandatoryHashes,
}
