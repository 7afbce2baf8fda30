using System.Diagnostics;
using System.Text.Json;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>
/// Runs a measurement in a fresh <c>dotnet</c> process, so what it measures (memory, start-up) belongs to that
/// process alone, and reads the JSON object it prints last.
/// </summary>
public static class ChildProcessMeasurement
{
    public static async Task<T> RunAsync<T>(string what, IEnumerable<string> arguments, TimeSpan timeLimit, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
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
            throw;
        }

        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"The {what} failed ({child.ExitCode}): {await stderr}");
        }

        var lastLine = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()
                       ?? throw new InvalidOperationException($"The {what} printed no result.");
        return JsonSerializer.Deserialize<T>(lastLine, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })
               ?? throw new InvalidOperationException($"The {what} printed no result.");
    }
}
