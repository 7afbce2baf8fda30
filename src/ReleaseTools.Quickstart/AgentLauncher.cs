using System.Diagnostics;

namespace ReleaseTools.Quickstart;

/// <summary>
/// Runs the reference Floyd agent as a child process on an ephemeral loopback port and learns the port from the
/// line it prints when listening. Output is drained continuously so a full pipe never stalls the agent.
/// </summary>
internal sealed class AgentLauncher : IDisposable
{
    private const string ListeningPrefix = "Floyd agent listening on ";

    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = new();

    private AgentLauncher(Process process) => _process = process;

    public Uri Address { get; private set; } = null!;

    public static async Task<AgentLauncher> StartAsync(string dataDirectory, string authorizedKeyPath, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in new[] { BuildPaths.FloydAgentAssembly, "--urls", "http://127.0.0.1:0", "--data-dir", dataDirectory, "--authorized-key", authorizedKeyPath })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("DOTNET_URLS");
        var launcher = new AgentLauncher(new Process { StartInfo = start, EnableRaisingEvents = true });
        launcher._process.OutputDataReceived += (_, e) => launcher.OnLine(e.Data);
        launcher._process.ErrorDataReceived += (_, e) => launcher.OnLine(e.Data);
        launcher._process.Exited += (_, _) => launcher._listening.TrySetException(new InvalidOperationException("The Floyd agent exited before listening:\n" + launcher.Output));
        launcher._process.Start();
        launcher._process.BeginOutputReadLine();
        launcher._process.BeginErrorReadLine();
        try
        {
            launcher.Address = await launcher._listening.Task.WaitAsync(timeout);
        }
        catch
        {
            launcher.Dispose();
            throw;
        }

        return launcher;
    }

    private string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join(Environment.NewLine, _output);
            }
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Count < 200)
            {
                _output.Add(line);
            }
        }

        if (line.StartsWith(ListeningPrefix, StringComparison.Ordinal) && Uri.TryCreate(line[ListeningPrefix.Length..].Trim(), UriKind.Absolute, out var uri))
        {
            _listening.TrySetResult(uri);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already gone.
        }

        _process.Dispose();
    }
}
