namespace ReleaseTools.Agent.Activation;

/// <summary>
/// How the agent installs and starts one service: where its releases live, where the rendered config goes, the hooks
/// and the health gate. A service with no section in the agent config file gets <see cref="Default"/>: releases under
/// the data directory, no hooks, no gate.
/// </summary>
public sealed record ServiceSettings
{
    public static readonly ServiceSettings Default = new();

    /// <summary>The service directory holding <c>releases/</c> and <c>current</c>; null: <c>&lt;data-dir&gt;/services/&lt;service&gt;</c>.</summary>
    public string? Directory { get; init; }

    /// <summary>Where the rendered config is placed, relative to the release root; null: the release root, under the pushed file name.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>Largest total size an archive may expand to; null: the agent-wide <c>maxExpandedBytes</c>.</summary>
    public long? MaxExpandedBytes { get; init; }

    /// <summary>Whether hooks shipped inside the package (<c>deploy/&lt;stage&gt;.sh</c>) run.</summary>
    public bool AllowPackageHooks { get; init; }

    public HookCommand? BeforeActivate { get; init; }

    public HookCommand? Activate { get; init; }

    public HookCommand? AfterActivate { get; init; }

    public HealthGateSettings? HealthCheck { get; init; }

    public HookCommand? HookFor(HookStage stage) => stage switch
    {
        HookStage.BeforeActivate => BeforeActivate,
        HookStage.Activate => Activate,
        HookStage.AfterActivate => AfterActivate,
        _ => null,
    };
}

/// <summary>The three moments a hook can run at, in order.</summary>
public enum HookStage
{
    BeforeActivate,
    Activate,
    AfterActivate,
}

/// <summary>A shell command (<c>/bin/sh -c</c> on Unix, <c>cmd.exe /c</c> on Windows) and how long it may take.</summary>
public sealed record HookCommand(string Run, TimeSpan Timeout)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The health gate: an HTTP check or a command, tried up to <see cref="Attempts"/> times <see cref="Interval"/> apart;
/// it passes on the first attempt that succeeds.
/// </summary>
public sealed record HealthGateSettings
{
    public HttpHealthCheck? Http { get; init; }

    public HookCommand? Command { get; init; }

    public int Attempts { get; init; } = 10;

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);
}

public sealed record HttpHealthCheck
{
    public Uri Url { get; init; } = null!;

    public int ExpectStatus { get; init; } = 200;

    /// <summary>Text the response body must contain (ordinal), or null for any body.</summary>
    public string? BodyContains { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);
}
