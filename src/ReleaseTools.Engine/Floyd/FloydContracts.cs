using System;
using System.Collections.Generic;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>Hash used inside the request signature. Both sides must be configured alike; SHA1 is what existing agents speak.</summary>
    public enum FloydHashAlgorithm
    {
        Sha1,
        Sha256,
    }

    /// <summary>The protocol step a request belongs to; errors carry it so an operator knows where an instance stopped.</summary>
    public enum FloydStep
    {
        Health,
        Ping,
        Package,
        Config,
        Activate,
        Verify,
        Status,
    }

    /// <summary>Where one instance's agent listens.</summary>
    public sealed record FloydEndpoint
    {
        public string InstanceId { get; init; } = "";
        public string Host { get; init; } = "";
        public int Port { get; init; }
        public bool UseTls { get; init; }
        /// <summary>
        /// Which of the agent's instances of the service (docs/floyd-protocol.md, section 4.1); null: the default instance.
        /// Sent only to an agent that announces the feature; any other agent is refused before a request is signed.
        /// </summary>
        public string? AgentInstance { get; init; }
        /// <summary>
        /// SHA-256 fingerprint of this agent's TLS certificate to trust (a pin for this endpoint alone, on top of
        /// <see cref="FloydClientOptions.TrustedAgentCertificates"/>); null: the client's options decide.
        /// </summary>
        public string? TrustedCertificate { get; init; }

        public Uri BaseUri => new UriBuilder(UseTls ? "https" : "http", Host, Port).Uri;

        /// <summary>The endpoint of a registered instance: its agent's address, instance, scheme and pinned certificate.</summary>
        public static FloydEndpoint For(Store.InstanceRecord instance) => new FloydEndpoint
        {
            InstanceId = instance.InstanceId,
            Host = instance.Host,
            Port = instance.Port,
            AgentInstance = instance.AgentInstance,
            UseTls = instance.UseHttps,
            TrustedCertificate = instance.AgentCertificate,
        };
    }

    public sealed record FloydClientOptions
    {
        public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);

        public FloydHashAlgorithm HashAlgorithm { get; init; } = FloydHashAlgorithm.Sha1;
        public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(30);
        public TimeSpan PackageTimeout { get; init; } = TimeSpan.FromSeconds(300);
        public TimeSpan ConfigTimeout { get; init; } = TimeSpan.FromSeconds(60);
        /// <summary>
        /// Activation: the agent unpacks the package, runs the service's hooks and waits for its health gate before it
        /// answers, so this bounds all of that together.
        /// </summary>
        public TimeSpan ActivateTimeout { get; init; } = TimeSpan.FromMinutes(15);
        public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(10);
        /// <summary>
        /// A request on which no byte moves for this long fails as a transient, retried failure of its step, well before
        /// the step's own timeout (which must allow a slow but moving push of gigabytes). The wait for an activation's
        /// answer is exempt: the agent runs hooks and a health gate first. Zero or infinite turns it off.
        /// </summary>
        public TimeSpan IdleTimeout { get; init; } = DefaultIdleTimeout;
        /// <summary>Connections kept per agent; pushes to one agent share them.</summary>
        public int MaxConnectionsPerServer { get; init; } = 16;

        /// <summary>
        /// SHA-256 fingerprints (hex, any case, ':' or spaces allowed) of the agents' TLS certificates to trust. Empty: an
        /// https agent's certificate must chain to a root this machine trusts and name the host. Given: an https agent
        /// is trusted only when its certificate is one of these (a pin; chain and name are then not asked for), so a
        /// self-signed agent certificate works without touching the machine's trust store.
        /// </summary>
        public IReadOnlyCollection<string> TrustedAgentCertificates { get; init; } = Array.Empty<string>();
    }

    public sealed record PingRequest
    {
        public string Service { get; init; } = "";
        public string Version { get; init; } = "";
        public string FVersion { get; init; } = "";
        /// <summary>MD5 (lowercase hex) of the package, when known, so the agent can say whether it holds those exact bytes.</summary>
        public string? PackageMd5 { get; init; }
        /// <summary>
        /// The package's size in bytes when the package is at hand. With <see cref="PackageMd5"/> it lets a 1.1 agent
        /// issue the upload ticket of the package push in this ping's answer (protocol section 2.5), so the push that
        /// follows needs no ping of its own. Leave it null on a ping that no package push follows (a verify ping).
        /// </summary>
        public long? PackageBytes { get; init; }
        public string Message { get; init; } = "";
    }

    public sealed record PingResponse
    {
        public bool NeedPackage { get; init; }
        public bool NeedConfig { get; init; }
        /// <summary>The release the agent runs now for this service; null when none is active.</summary>
        public string? CurrentVersion { get; init; }
        public string? CurrentFVersion { get; init; }
    }

    public sealed record PackagePush
    {
        public string Service { get; init; } = "";
        public string Version { get; init; } = "";
        public string FVersion { get; init; } = "";
        /// <summary>Local file streamed to the agent; never read into memory whole.</summary>
        public string FilePath { get; init; } = "";
        /// <summary>MD5 of the file as lowercase hex (sent base64 in the Content-MD5 header).</summary>
        public string Md5 { get; init; } = "";
        /// <summary>The package's own name (e.g. web-1.5.0.tar.gz): tells the agent how to unpack it. Null: the file's name.</summary>
        public string? FileName { get; init; }
        /// <summary>
        /// True when <see cref="Md5"/> was computed by this process from the very bytes it wrote to <see cref="FilePath"/>
        /// (a package downloaded or copied into the cache for this run): the client then does not read the file once more
        /// for its MD5 while it signs the body, and the agent, which checks every push against Content-MD5, refuses bytes
        /// changed since with a checksum error and stores nothing. False (a file hashed earlier, such as a cache entry
        /// reused from another run): the client hashes the file as it signs and sends nothing when it differs.
        /// </summary>
        public bool Md5ComputedFromFile { get; init; }
        /// <summary>
        /// Called with the file bytes written to the socket so far, after each chunk (80 KiB), on the sending thread:
        /// keep it cheap. Not called while the body is hashed for the signature.
        /// </summary>
        public Action<long>? OnBytesSent { get; init; }
    }

    public sealed record ConfigPush
    {
        public string Service { get; init; } = "";
        public string Version { get; init; } = "";
        public string FVersion { get; init; } = "";
        public string FileName { get; init; } = "";
        public byte[] Content { get; init; } = Array.Empty<byte>();
    }

    public sealed record ActivateRequest
    {
        public string Service { get; init; } = "";
        public string Version { get; init; } = "";
        public string FVersion { get; init; } = "";
        /// <summary>A redeploy: the agent runs the hooks and the health gate again even when this release is already active.</summary>
        public bool Reactivate { get; init; }
    }

    /// <summary>What a successful activation did on the agent.</summary>
    public sealed record ActivationResult
    {
        /// <summary>"passed", "none" (the service has no health gate) or "unchanged" (the release was already active).</summary>
        public string? HealthCheck { get; init; }
        public string? PreviousVersion { get; init; }
        public IReadOnlyList<HookRun> Hooks { get; init; } = Array.Empty<HookRun>();
    }

    public sealed record HookRun
    {
        /// <summary>beforeActivate, activate or afterActivate.</summary>
        public string Stage { get; init; } = "";
        /// <summary>"config" (the agent config file) or "package" (a script shipped in the package).</summary>
        public string Source { get; init; } = "";
        public int? ExitCode { get; init; }
        public bool TimedOut { get; init; }
        public TimeSpan Duration { get; init; }
        public string Output { get; init; } = "";
    }

    /// <summary>The agent's account of a failed activation (docs/floyd-protocol.md §5.5).</summary>
    public sealed record ActivationFailureReport
    {
        /// <summary>unpack, beforeActivate, activate, afterActivate or healthCheck.</summary>
        public string FailedStep { get; init; } = "";
        public string Detail { get; init; } = "";
        /// <summary>The failed hook's last output or the health check's last response excerpt.</summary>
        public string Output { get; init; } = "";
        /// <summary>The agent went back to the previous release and it passed its checks again.</summary>
        public bool Reverted { get; init; }
        public string? ActiveVersion { get; init; }
        public string? ActiveFVersion { get; init; }
        public string? RevertDetail { get; init; }
    }

    public sealed record AgentHealth
    {
        public bool Healthy { get; init; }
        public string? AgentVersion { get; init; }
        /// <summary>"1.1", or "1.0" for an agent that does not say (the original protocol).</summary>
        public string ProtocolVersion { get; init; } = "1.0";
        /// <summary>The identity the client binds into signed requests; null for a 1.0 agent.</summary>
        public string? AgentId { get; init; }
        /// <summary>The agent hosts several instances of a service, addressed by instance id (section 4.1).</summary>
        public bool SupportsInstances { get; init; }
    }

    public sealed record AgentServiceStatus
    {
        public string Service { get; init; } = "";
        /// <summary>The agent instance id of a non-default instance; null for the service's default instance.</summary>
        public string? Instance { get; init; }
        public string? ActiveVersion { get; init; }
        public string? ActiveFVersion { get; init; }
        public IReadOnlyList<string> StoredVersions { get; init; } = Array.Empty<string>();
    }

    public sealed record AgentStatus
    {
        public IReadOnlyList<AgentServiceStatus> Services { get; init; } = Array.Empty<AgentServiceStatus>();
    }
}
