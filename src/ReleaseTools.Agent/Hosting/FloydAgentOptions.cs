using Microsoft.Extensions.Logging;
using ReleaseTools.Agent.Activation;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Hosting;

/// <summary>Everything a Floyd agent needs to run; the command line and in-process hosts both fill this.</summary>
public sealed record FloydAgentOptions
{
    /// <summary>Where packages, configs and the active-release pointers live. Created if missing.</summary>
    public string DataDirectory { get; init; } = "";

    /// <summary>
    /// The identity signed 1.1 requests must name (<c>?agent=</c>); null: generated at first start and kept in
    /// <c>&lt;dataDir&gt;/agent-id</c>.
    /// </summary>
    public string? AgentId { get; init; }

    /// <summary>
    /// Whether the agent asks its own <c>GET /health</c> once it listens (<see cref="StartupSelfCheck"/> says why). On by
    /// default; a failure is logged as a warning and never stops the agent.
    /// </summary>
    public bool CheckHealthOnStart { get; init; } = true;

    /// <summary>
    /// Whether the agent rehearses three deployments on a private copy of itself before it listens
    /// (<see cref="StartupRehearsal"/> says why). On by default; a failure is logged as a warning and never stops the agent.
    /// </summary>
    public bool RehearseOnStart { get; init; } = true;

    /// <summary>
    /// Set on the private copy a rehearsal starts: it neither rehearses nor checks itself, and it stays out of the
    /// service manager's sight (no systemd readiness, no Windows service lifetime), which belongs to the real agent.
    /// </summary>
    internal bool IsRehearsalCopy { get; init; }

    /// <summary>Addresses to bind. Port 0 picks a free port; the real address is reported after start.</summary>
    public IReadOnlyList<string> Urls { get; init; } = new[] { "http://127.0.0.1:0" };

    /// <summary>
    /// The certificate https addresses serve: a PKCS#12 file (.pfx/.p12) or a PEM certificate (its key in the same file
    /// or in <see cref="TlsCertificateKeyPath"/>). Required when an address is https.
    /// </summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>The PEM private key of <see cref="TlsCertificatePath"/>, when it is not in the certificate file.</summary>
    public string? TlsCertificateKeyPath { get; init; }

    /// <summary>Opens a PKCS#12 certificate or an encrypted PEM key; the command line reads it from FLOYD_TLS_CERTIFICATE_PASSWORD.</summary>
    public string? TlsCertificatePassword { get; init; }

    /// <summary>PEM files with the public keys whose signatures are accepted (a file may hold several keys).</summary>
    public IReadOnlyList<string> AuthorizedKeyFiles { get; init; } = Array.Empty<string>();

    /// <summary>Public keys as PEM text, for hosts that hold them in memory.</summary>
    public IReadOnlyList<string> AuthorizedKeyPems { get; init; } = Array.Empty<string>();

    public FloydHashAlgorithm HashAlgorithm { get; init; } = FloydHashAlgorithm.Sha1;

    /// <summary>How far a request's TimeStamp may be from the agent's clock, either way.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Largest file a push may carry, in bytes (its body may add <see cref="Security.UploadLimits.FramingAllowance"/> of
    /// multipart framing). A ping asking a ticket for a larger file is refused, so nothing is sent.
    /// </summary>
    public long MaxBodyBytes { get; init; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Largest JSON body accepted (ping, activate); they are small and are read whole into memory.</summary>
    public long MaxJsonBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// Releases kept per service (package, config and installed directory), the most recently received or activated
    /// first; the active one, the one before it and any being received are kept whatever this says.
    /// </summary>
    public int KeepReleases { get; init; } = 5;

    /// <summary>Largest total size a package may expand to when unpacked, unless a service sets its own.</summary>
    public long MaxExpandedBytes { get; init; } = 16L * 1024 * 1024 * 1024;

    /// <summary>How each service is installed, started and checked (the <c>services</c> section of the agent config file).</summary>
    public IReadOnlyDictionary<string, ServiceSettings> Services { get; init; } = new Dictionary<string, ServiceSettings>(StringComparer.Ordinal);

    /// <summary>Signatures remembered for replay protection; when full of unexpired entries, new requests get 503.</summary>
    public int ReplayCacheCapacity { get; init; } = 100_000;

    /// <summary>
    /// How long a request's line and headers may take to arrive once it has begun; a slower one is refused with 408
    /// <c>request_timeout</c> (section 6). The HTTP server's own default, 30 seconds.
    /// </summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public bool ConsoleLogging { get; init; }

    public LogLevel MinimumLogLevel { get; init; } = LogLevel.Information;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
