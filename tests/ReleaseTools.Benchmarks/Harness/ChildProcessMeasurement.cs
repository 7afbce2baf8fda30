using System.Diagnostics;
using System.Text.Json;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>
/// Runs a measurement in a fresh process (<c>dotnet</c> unless told otherwise), so what it measures (memory, start-up,
/// CPU) belongs to that process alone, and reads the JSON object it prints last.
/// </summary>
public static class ChildProcessMeasurement
{
    public static async Task<T> RunAsync<T>(string what, IEnumerable<string> arguments, TimeSpan timeLimit, CancellationToken cancellationToken,
        string program = "dotnet", string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var output = await RunToEndAsync(what, arguments, timeLimit, cancellationToken, program, workingDirectory, environment);
        var lastLine = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()
                       ?? throw new InvalidOperationException($"The {what} printed no result.");
        return JsonSerializer.Deserialize<T>(lastLine, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })
               ?? throw new InvalidOperationException($"The {what} printed no result.");
    }

    /// <summary>Runs the process to its end within the time limit and returns its standard output; a non-zero exit throws.</summary>
    public static async Task<string> RunToEndAsync(string what, IEnumerable<string> arguments, TimeSpan timeLimit, CancellationToken cancellationToken,
        string program = "dotnet", string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory != null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var child = Process.Start(start) ?? throw new InvalidOperationException($"Could not start the {what}.");
        var stdout = child.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = child.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(timeLimit);
        try
        {
            await child.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"The {what} did not finish within {timeLimit}: {Tail(await stderr)}");
        }

        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"The {what} failed ({child.ExitCode}): {Tail(await stderr)} {Tail(await stdout)}");
        }

        if (Environment.GetEnvironmentVariable("RELEASETOOLS_BENCH_CHILD_STDERR") == "1")
        {
            // For looking into a child's timing: what it wrote to stderr, after it ended.
            Console.Error.WriteLine($"[{what}] {await stderr}");
        }

        return await stdout;
    }

    private static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;
}
