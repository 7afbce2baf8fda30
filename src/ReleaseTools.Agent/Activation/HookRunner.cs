using System.Diagnostics;
using System.Text;

namespace ReleaseTools.Agent.Activation;

/// <summary>What one command run did.</summary>
public sealed record CommandOutcome(int? ExitCode, bool TimedOut, TimeSpan Duration, TimeSpan Timeout, string OutputTail, string? StartError = null)
{
    public bool Succeeded => StartError == null && !TimedOut && ExitCode == 0;

    public string Describe(string command) =>
        StartError != null ? $"'{command}' could not start: {StartError}"
        : TimedOut ? $"'{command}' did not finish within {Timeout.TotalSeconds:0.###} s and was killed"
        : $"'{command}' exited with code {ExitCode}";
}

/// <summary>
/// Runs hook and health-check commands: through <c>/bin/sh -c</c> (Unix) or <c>cmd.exe /d /c</c> (Windows), in the given
/// working directory with the given environment, killed (with its process tree) at the timeout. Every output line is
/// logged; the last <see cref="TailBytes"/> bytes come back for the client. The run ends when the command exits,
/// even if a process it started in the background keeps the output pipes open.
/// </summary>
public sealed class HookRunner
{
    public const int TailBytes = 4096;
    private static readonly TimeSpan OutputDrainGrace = TimeSpan.FromSeconds(1);

    private readonly ILogger<HookRunner> _logger;

    public HookRunner(ILogger<HookRunner> logger)
    {
        _logger = logger;
    }

    public async Task<CommandOutcome> RunAsync(string label, string command, TimeSpan timeout, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var start = OperatingSystem.IsWindows()
            ? new ProcessStartInfo("cmd.exe") { ArgumentList = { "/d", "/c", command } }
            : new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", command } };
        start.WorkingDirectory = workingDirectory;
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.CreateNoWindow = true;
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var tail = new OutputTail(TailBytes);
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return new CommandOutcome(null, false, clock.Elapsed, timeout, "", ex.Message);
        }

        process.StandardInput.Close();
        _logger.LogInformation("{Label}: running '{Command}' in {Directory} (pid {Pid}, timeout {Timeout} s)", label, command, workingDirectory, process.Id, timeout.TotalSeconds);
        var readers = Task.WhenAll(PumpAsync(process.StandardOutput, label, tail, isError: false), PumpAsync(process.StandardError, label, tail, isError: true));
        var timedOut = false;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            deadline.CancelAfter(timeout);
            try
            {
                await WaitForExitAsync(process, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = !cancellationToken.IsCancellationRequested;
                KillTree(process);
                if (!timedOut)
                {
                    throw;
                }
            }
        }

        // A background child (a service the hook started) may hold the pipes open for ever: do not wait for it.
        await Task.WhenAny(readers, Task.Delay(OutputDrainGrace, CancellationToken.None));
        int? exitCode = timedOut ? null : process.ExitCode;
        var outcome = new CommandOutcome(exitCode, timedOut, clock.Elapsed, timeout, tail.Text);
        if (outcome.Succeeded)
        {
            _logger.LogInformation("{Label}: '{Command}' exited with code 0 after {Milliseconds} ms", label, command, (long)clock.Elapsed.TotalMilliseconds);
        }
        else
        {
            _logger.LogWarning("{Label}: {Outcome}", label, outcome.Describe(command));
        }

        return outcome;
    }

    /// <summary>Waits on the exit itself (Process.WaitForExitAsync would also wait for the redirected pipes to close).</summary>
    private static async Task WaitForExitAsync(Process process, CancellationToken cancellationToken)
    {
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => exited.TrySetResult();
        if (process.HasExited)
        {
            exited.TrySetResult();
        }

        await exited.Task.WaitAsync(cancellationToken);
        process.WaitForExit(0);
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5_000);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private async Task PumpAsync(StreamReader reader, string label, OutputTail tail, bool isError)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                tail.Append(line);
                if (isError)
                {
                    _logger.LogWarning("{Label} stderr: {Line}", label, line);
                }
                else
                {
                    _logger.LogInformation("{Label} stdout: {Line}", label, line);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The process was killed while writing.
        }
    }

    /// <summary>The last bytes of a command's combined output, cut at a line boundary when it overflows.</summary>
    private sealed class OutputTail(int limit)
    {
        private readonly StringBuilder _text = new();
        private readonly object _gate = new();

        public string Text
        {
            get
            {
                lock (_gate)
                {
                    return _text.ToString();
                }
            }
        }

        public void Append(string line)
        {
            lock (_gate)
            {
                _text.Append(line).Append('\n');
                if (Encoding.UTF8.GetByteCount(_text.ToString()) > limit)
                {
                    var text = _text.ToString();
                    var keep = text[^Math.Min(text.Length, limit)..];
                    var newline = keep.IndexOf('\n');
                    _text.Clear().Append(newline >= 0 && newline < keep.Length - 1 ? keep[(newline + 1)..] : keep);
                }
            }
        }
    }
}
