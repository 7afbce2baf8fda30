using System.Collections;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// A real PowerShell runspace (the hosted System.Management.Automation engine) that has imported the built
/// module from its folder, exactly as a user's Import-Module would.
/// </summary>
public sealed class PowerShellSession : IDisposable
{
    private readonly Runspace _runspace;

    public PowerShellSession()
    {
        var state = InitialSessionState.CreateDefault2();
        if (OperatingSystem.IsWindows())
        {
            state.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass;
        }

        _runspace = RunspaceFactory.CreateRunspace(state);
        _runspace.Open();
        Run("Import-Module -Name $args[0] -ErrorAction Stop", ManifestPath).ThrowOnError();
    }

    public static string ManifestPath => Path.Combine(TestPaths.ModuleDirectory, "ReleaseTools.psd1");

    /// <summary>Runs a script whose param() block receives <paramref name="parameters"/>; errors are collected, not thrown.</summary>
    public PowerShellResult Invoke(string script, IDictionary? parameters = null)
        => Execute(shell =>
        {
            shell.AddScript(script);
            if (parameters is not null)
            {
                shell.AddParameters(parameters);
            }
        });

    /// <summary>Runs a script with positional arguments ($args).</summary>
    public PowerShellResult Run(string script, params object[] arguments)
        => Execute(shell =>
        {
            shell.AddScript(script);
            foreach (var argument in arguments)
            {
                shell.AddArgument(argument);
            }
        });

    /// <summary>
    /// Starts a script, waits <paramref name="stopAfter"/> (or until <paramref name="stopWhen"/> holds), then stops the
    /// pipeline as Ctrl+C does, and reports how long the stop took to come back.
    /// </summary>
    public TimeSpan InvokeThenStop(string script, IDictionary parameters, TimeSpan stopAfter, Func<bool>? stopWhen = null)
    {
        using var shell = PowerShell.Create();
        shell.Runspace = _runspace;
        shell.AddScript(script).AddParameters(parameters);
        var running = shell.BeginInvoke();
        // With a condition, stopped as soon as it holds (stopAfter only bounds the wait), so a loaded machine that is
        // slow to get there does not fail the test; without one, stopped after stopAfter.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (stopWhen is not null && !stopWhen() && waited.Elapsed < stopAfter && !running.IsCompleted)
        {
            Thread.Sleep(50);
        }

        Assert.False(running.AsyncWaitHandle.WaitOne(stopWhen is null ? stopAfter : TimeSpan.Zero), "The script ended before it could be stopped.");
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        shell.Stop();
        try
        {
            shell.EndInvoke(running);
        }
        catch (PipelineStoppedException)
        {
            // What a stopped pipeline reports.
        }

        return stopping.Elapsed;
    }

    /// <summary>Starts a script in the background (as a second console window would run it); stop it as Ctrl+C does.</summary>
    public RunningScript Start(string script, IDictionary parameters)
    {
        var shell = PowerShell.Create();
        shell.Runspace = _runspace;
        shell.AddScript(script).AddParameters(parameters);
        return new RunningScript(shell, shell.BeginInvoke());
    }

    private PowerShellResult Execute(Action<PowerShell> build)
    {
        using var shell = PowerShell.Create();
        shell.Runspace = _runspace;
        build(shell);
        Collection<PSObject> output;
        RuntimeException? terminating = null;
        try
        {
            output = shell.Invoke();
        }
        catch (RuntimeException exception)
        {
            output = new Collection<PSObject>();
            terminating = exception;
        }

        return new PowerShellResult(output, shell.Streams.Error.ToList(), shell.Streams.Warning.Select(w => w.Message).ToList(), shell.Streams.Information.ToList(), terminating)
        {
            Verbose = shell.Streams.Verbose.Select(v => v.Message).ToList(),
            Progress = shell.Streams.Progress.ToList(),
        };
    }

    public void Dispose() => _runspace.Dispose();
}

public sealed record PowerShellResult(
    Collection<PSObject> Output,
    IReadOnlyList<ErrorRecord> Errors,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<InformationRecord> Information,
    RuntimeException? Terminating)
{
    /// <summary>Verbose messages (the script must ask for them, e.g. with -Verbose).</summary>
    public IReadOnlyList<string> Verbose { get; init; } = Array.Empty<string>();

    /// <summary>Every progress record, in the order written.</summary>
    public IReadOnlyList<ProgressRecord> Progress { get; init; } = Array.Empty<ProgressRecord>();

    /// <summary>Fails with every error PowerShell reported, so a broken pipeline explains itself in the test log.</summary>
    public PowerShellResult ThrowOnError()
    {
        if (Terminating is not null || Errors.Count > 0)
        {
            var messages = Errors.Select(e => $"{e.FullyQualifiedErrorId}: {e}").ToList();
            if (Terminating is not null)
            {
                messages.Insert(0, $"terminating {Terminating.ErrorRecord?.FullyQualifiedErrorId}: {Terminating.Message}");
            }

            throw new Xunit.Sdk.XunitException("PowerShell reported errors:\n" + string.Join("\n", messages));
        }

        return this;
    }

    public IEnumerable<T> Values<T>(string property) => Output.Select(o => (T)LanguagePrimitives.ConvertTo(o.Properties[property].Value, typeof(T)));
}

/// <summary>A script running in the background in its own runspace.</summary>
public sealed class RunningScript : IDisposable
{
    private readonly PowerShell _shell;
    private readonly IAsyncResult _running;

    public RunningScript(PowerShell shell, IAsyncResult running)
    {
        _shell = shell;
        _running = running;
    }

    public bool HasEnded => _running.IsCompleted;

    /// <summary>Stops the script as Ctrl+C does and waits for it to end.</summary>
    public void Stop()
    {
        if (!_running.IsCompleted)
        {
            _shell.Stop();
        }

        try
        {
            _shell.EndInvoke(_running);
        }
        catch (PipelineStoppedException)
        {
            // What a stopped pipeline reports.
        }
    }

    public void Dispose()
    {
        Stop();
        _shell.Dispose();
    }
}
