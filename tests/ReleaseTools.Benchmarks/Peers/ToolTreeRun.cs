using System.Text.Json;
using ReleaseTools.Benchmarks.Harness;

namespace ReleaseTools.Benchmarks.Peers;

/// <summary>What a command-line tool cost: wall time and the CPU of its whole process tree (see measure_tree.py).</summary>
public sealed record TreeMeasurement(double Seconds, double CpuSeconds, int ExitCode);

public static class ToolTreeRun
{
    public static readonly string Wrapper = Path.Combine(AppContext.BaseDirectory, "Peers", "measure_tree.py");

    public static Task<TreeMeasurement> RunAsync(string what, IReadOnlyList<string> command, TimeSpan timeLimit,
        IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken) =>
        ChildProcessMeasurement.RunAsync<TreeMeasurement>(what, [Wrapper, .. command], timeLimit, cancellationToken, program: "python3", environment: environment);
}
