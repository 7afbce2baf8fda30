using System.Collections.Concurrent;
using System.Diagnostics;

namespace ReleaseTools.Testing;

/// <summary>
/// The real Floyd agent (<see cref="TestPaths.FloydAgentAssembly"/>) running as its own process on an ephemeral
/// loopback port, as a user would run it. Its stdout and stderr are drained continuously (a full pipe would stall the
/// agent) and the last lines are kept for failure messages. Every wait is bounded; dispose kills the process.
/// </summary>
public sealed class AgentProcess : IAsyncDisposable
{
    public const string ListeningPrefix = "Floyd agent listening on ";
    private const int KeptLines = 400;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AgentProcess(Process process, string dataDirectory)
    {
        _process = process;
        DataDirectory = dataDirectory;
    }

    /// <summary>Starts this agent's program again, with the same arguments and data directory, on the given port.</summary>
    private Func<int, CancellationToken, Task<AgentProcess>> _startAgain = null!;

    public Uri BaseUri { get; private set; } = null!;

    public int Port => BaseUri.Port;

    public string DataDirectory { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The most recent lines the agent wrote (stdout and stderr), for assertion messages.</summary>
    public string RecentOutput => string.Join(Environment.NewLine, _output);

    /// <summary>
    /// Starts <c>dotnet ReleaseTools.Agent.dll --urls http://127.0.0.1:0 --data-dir ... --authorized-key ...</c> and waits
    /// (at most <paramref name="startTimeout"/>, default 30 s) for the line announcing the real address.
    /// </summary>
    public static Task<AgentProcess> StartAsync(string dataDirectory, IEnumerable<string> authorizedKeyFiles,
        IEnumerable<string>? extraArguments = null, TimeSpan? startTimeout = null, CancellationToken cancellationToken = default) =>
        StartAsync(DotnetHost(), [TestPaths.FloydAgentAssembly], null, dataDirectory, authorizedKeyFiles, extraArguments, startTimeout, cancellationToken);

    /// <summary>
    /// Starts the agent the way systemd starts a <c>Type=notify</c> unit, as far as the agent can tell: its parent process
    /// is named <c>systemd</c> (a copy of /bin/sh of that name in <paramref name="parentDirectory"/>, which stays the
    /// parent: it waits for the agent instead of exec'ing it) and NOTIFY_SOCKET names <paramref name="notifySocket"/>.
    /// Unix only.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static Task<AgentProcess> StartAsSystemdServiceAsync(string parentDirectory, string notifySocket, string dataDirectory,
        IEnumerable<string> authorizedKeyFiles, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(parentDirectory);
        var systemd = Path.Combine(parentDirectory, "systemd");
        File.Copy("/bin/sh", systemd, overwrite: true);
        File.SetUnixFileMode(systemd, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // "exit $?" after the command keeps the shell from replacing itself with it.
        return StartAsync(systemd, ["-c", "\"$0\" \"$@\"; exit $?", DotnetHost(), TestPaths.FloydAgentAssembly],
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifySocket }, dataDirectory, authorizedKeyFiles, null, null, cancellationToken);
    }

    /// <summary>
    /// Starts the executable of a published agent (<c>dotnet publish src/ReleaseTools.Agent -o DIR</c>, as docs/agent.md
    /// tells operators) instead of the build output, with extra environment variables (runtime settings under test).
    /// </summary>
    public static Task<AgentProcess> StartPublishedAsync(string publishedDirectory, string dataDirectory, IEnumerable<string> authorizedKeyFiles,
        IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default) =>
        StartAsync(Path.Combine(publishedDirectory, OperatingSystem.IsWindows() ? "ReleaseTools.Agent.exe" : "ReleaseTools.Agent"), [], environment,
            dataDirectory, authorizedKeyFiles, null, null, cancellationToken);

    /// <param name="port">0 for an ephemeral port; a given one to start an agent again where it listened before.</param>
    private static async Task<AgentProcess> StartAsync(string program, IReadOnlyList<string> leadingArguments, IReadOnlyDictionary<string, string>? environment,
        string dataDirectory, IEnumerable<string> authorizedKeyFiles, IEnumerable<string>? extraArguments, TimeSpan? startTimeout, CancellationToken cancellationToken,
        int port = 0)
    {
        var keys = authorizedKeyFiles.ToArray();
        var extra = (extraArguments ?? Array.Empty<string>()).ToArray();
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in leadingArguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.ArgumentList.Add("--data-dir");
        start.ArgumentList.Add(dataDirectory);
        foreach (var key in keys)
        {
            start.ArgumentList.Add("--authorized-key");
            start.ArgumentList.Add(key);
        }

        foreach (var argument in extra)
        {
            start.ArgumentList.Add(argument);
        }

        // The agent must not pick up a test runner's ASP.NET settings (URLs, environment) from the environment.
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("DOTNET_URLS");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var agent = new AgentProcess(process, dataDirectory)
        {
            _startAgain = (again, token) => StartAsync(program, leadingArguments, environment, dataDirectory, keys, extra, startTimeout, token, again),
        };
        process.OutputDataReceived += (_, e) => agent.OnLine(e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => agent.OnLine(e.Data, isError: true);
        process.Exited += (_, _) =>
        {
            if (agent._listening.Task.IsCompleted)
            {
                return;
            }

            // Let the output readers deliver the last lines (the reason it stopped) before reporting.
            try
            {
                // Only the overload without a timeout waits for the redirected streams to reach their end.
                if (process.WaitForExit(5_000))
                {
                    process.WaitForExit();
                }
            }
            catch (InvalidOperationException)
            {
            }

            agent._listening.TrySetException(new InvalidOperationException(
                $"The Floyd agent exited (code {SafeExitCode(process)}) before listening.{Environment.NewLine}{agent.RecentOutput}"));
        };

        if (!process.Start())
        {
            throw new InvalidOperationException("Could not start the Floyd agent process.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            agent.BaseUri = await agent._listening.Task.WaitAsync(startTimeout ?? TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (Exception ex)
        {
            agent.Kill();
            if (ex is TimeoutException)
            {
                throw new TimeoutException($"The Floyd agent did not report its address in time.{Environment.NewLine}{agent.RecentOutput}", ex);
            }

            throw;
        }

        return agent;
    }

    /// <summary>
    /// Kills this agent at once and starts it again on the same port with the same data directory, keys and options, as
    /// a crashed agent restarted by systemd would be; returns the new process.
    /// </summary>
    public async Task<AgentProcess> RestartAsync(CancellationToken cancellationToken = default)
    {
        var port = Port;
        Kill();
        _process.Dispose();
        return await _startAgain(port, cancellationToken);
    }

    /// <summary>Kills the agent at once (no graceful shutdown), like a crash or a power cut, and waits up to 10 s for it to go.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
    }

    private void OnLine(string? line, bool isError)
    {
        if (line == null)
        {
            return;
        }

        _output.Enqueue(isError ? "[stderr] " + line : line);
        while (_output.Count > KeptLines && _output.TryDequeue(out _))
        {
        }

        if (!isError && line.StartsWith(ListeningPrefix, StringComparison.Ordinal) &&
            Uri.TryCreate(line[ListeningPrefix.Length..].Trim(), UriKind.Absolute, out var uri))
        {
            _listening.TrySetResult(uri);
        }
    }

    private static string SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "unknown";
        }
    }

    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var current = Environment.ProcessPath;
        if (current != null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return current;
        }

        return "dotnet";
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
