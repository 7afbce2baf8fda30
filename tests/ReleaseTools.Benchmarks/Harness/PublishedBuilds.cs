using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>The agent build operators install: <c>dotnet publish src/ReleaseTools.Agent -c Release -o DIR</c> (docs/agent.md, section 1); and the baseline sinks, published the same way.</summary>
public static class PublishedBuilds
{
    /// <summary>The folder given by <c>--agent-dir</c>, else a fresh publish into the world's scratch folder.</summary>
    public static Task<string> GetAgentAsync(BenchmarkOptions options, BenchWorld world, CancellationToken cancellationToken) =>
        PublishAsync(options.Get("agent-dir"), Path.Combine(TestPaths.RepoRoot, "src", "ReleaseTools.Agent"), world.Scratch.Combine("floyd-agent"), cancellationToken);

    /// <summary>
    /// The baseline sinks, published the way the agent is (tests/ReleaseTools.Benchmarks.Sink): the folder given by
    /// <c>--sink-dir</c>, else a fresh publish.
    /// </summary>
    public static Task<string> GetSinkAsync(BenchmarkOptions options, BenchWorld world, CancellationToken cancellationToken) =>
        PublishAsync(options.Get("sink-dir"), Path.Combine(TestPaths.RepoRoot, "tests", "ReleaseTools.Benchmarks.Sink"), world.Scratch.Combine("sink"), cancellationToken);

    /// <summary>The executable of a published folder (<paramref name="name"/>, with .exe on Windows).</summary>
    public static string Executable(string directory, string name) => Path.Combine(directory, OperatingSystem.IsWindows() ? name + ".exe" : name);

    private static async Task<string> PublishAsync(string? given, string project, string output, CancellationToken cancellationToken)
    {
        if (given != null)
        {
            return given;
        }

        await ChildProcessMeasurement.RunToEndAsync($"publish {Path.GetFileName(project)}",
            ["publish", project, "-c", "Release", "-o", output, "--nologo", "-v", "q"],
            TimeSpan.FromMinutes(15), cancellationToken);
        return output;
    }

    public static IReadOnlyDictionary<string, string> ParseEnvironment(string? text) =>
        (text ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(pair => pair.Split('=', 2))
        .ToDictionary(pair => pair[0], pair => pair.Length > 1 ? pair[1] : "");
}
