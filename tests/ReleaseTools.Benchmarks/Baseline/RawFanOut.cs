using System.Diagnostics;

namespace ReleaseTools.Benchmarks.Baseline;

/// <summary>POSTs the same file to every sink with a plain HttpClient, at most <c>throttle</c> at once (sliding window).</summary>
public static class RawFanOut
{
    public static async Task<TimeSpan> RunAsync(string packagePath, IReadOnlyList<RawSinkServer> sinks, int throttle, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = throttle };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(5) };
        using var window = new SemaphoreSlim(throttle);
        var stopwatch = Stopwatch.StartNew();
        var uploads = sinks.Select(async sink =>
        {
            await window.WaitAsync(cancellationToken);
            try
            {
                await using var file = new FileStream(packagePath, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
                using var content = new StreamContent(file, 81920);
                using var response = await client.PostAsync(new Uri(sink.BaseUri, "upload"), content, cancellationToken);
                response.EnsureSuccessStatusCode();
            }
            finally
            {
                window.Release();
            }
        });
        await Task.WhenAll(uploads);
        return stopwatch.Elapsed;
    }
}
