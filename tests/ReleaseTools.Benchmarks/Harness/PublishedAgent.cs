using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>The agent build operators install: <c>dotnet publish src/ReleaseTools.Agent -c Release -o DIR</c> (docs/agent.md, section 1).</summary>
public static class PublishedAgent
{
    /// <summary>The folder given by <c>--agent-dir</c>, else a fresh publish into the world's scratch folder.</summary>
    public static async Task<string> GetAsync(BenchmarkOptions options, BenchWorld world, CancellationToken cancellationToken)
    {
        if (options.Get("agent-dir") is { } given)
        {
            return given;
        }

        var output = world.Scratch.Combine("floyd-agent");
        await ChildProcessMeasurement.RunToEndAsync("agent publish",
            ["publish", Path.Combine(TestPaths.RepoRoot, "src", "ReleaseTools.Agent"), "-c", "Release", "-o", output, "--nologo", "-v", "q"],
            TimeSpan.FromMinutes(10), cancellationToken);
        return output;
    }

    public static IReadOnlyDictionary<string, string> ParseEnvironment(string? text) =>
        (text ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(pair => pair.Split('=', 2))
        .ToDictionary(pair => pair[0], pair => pair.Length > 1 ? pair[1] : "");
}
