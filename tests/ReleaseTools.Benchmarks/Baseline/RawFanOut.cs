using System.Diagnostics;
using System.Text.Json;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Benchmarks.Sink;

namespace ReleaseTools.Benchmarks.Baseline;

/// <summary>POSTs the same file to every sink with a plain HttpClient, at most <c>throttle</c> at once (sliding window).</summary>
public static class RawFanOut
{
    public static Task<TimeSpan> RunAsync(string packagePath, IReadOnlyList<RawSinkServer> sinks, int throttle, CancellationToken cancellationToken) =>
        RunAsync(packagePath, sinks.Select(s => s.BaseUri).ToList(), throttle, cancellationToken);

    public static async Task<TimeSpan> RunAsync(string packagePath, IReadOnlyList<Uri> sinks, int throttle, CancellationToken cancellationToken)
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
                using var response = await client.PostAsync(new Uri(sink, "upload"), content, cancellationToken);
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

    /// <summary>
    /// Runs inside a client process of its own (<c>push-child --package P --sinks u1,u2 --throttle N</c>): the plain
    /// HttpClient a user could write, measured like the module's run (wall and CPU of the fan-out alone).
    /// </summary>
    public static async Task<int> RunChildAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var sinks = options.GetRequired("sinks").Split(',').Select(s => new Uri(s)).ToList();
        using var self = Process.GetCurrentProcess();
        var cpuBefore = self.TotalProcessorTime;
        var elapsed = await RunAsync(options.GetRequired("package"), sinks, options.GetInt("throttle", sinks.Count), cancellationToken);
        self.Refresh();
        Console.WriteLine(JsonSerializer.Serialize(new { seconds = elapsed.TotalSeconds, cpuSeconds = (self.TotalProcessorTime - cpuBefore).TotalSeconds }));
        return 0;
    }
}
