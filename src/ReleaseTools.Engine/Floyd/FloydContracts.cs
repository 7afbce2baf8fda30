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

        public Uri BaseUri => new UriBuilder(UseTls ? "https" : "http", Host, Port).Uri;
    }

    public sealed record FloydClientOptions
    {
        public FloydHashAlgorithm HashAlgorithm { get; init; } = FloydHashAlgorithm.Sha1;
        public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(30);
        public TimeSpan PackageTimeout { get; init; } = TimeSpan.FromSeconds(300);
        public TimeSpan ConfigTimeout { get; init; } = TimeSpan.FromSeconds(60);
        /// <summary>Activation and status requests (small JSON exchanges, but activation may wait for a store lock).</summary>
        public TimeSpan ActivateTimeout { get; init; } = TimeSpan.FromSeconds(60);
        public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(10);
        /// <summary>Connections kept per agent; pushes to one agent share them.</summary>
        public int MaxConnectionsPerServer { get; init; } = 16;
    }

    public sealed record PingRequest
    {
        public string Service { get; init; } = "";
        public string Version { get; init; } = "";
        public string FVersion { get; init; } = "";
        /// <summary>MD5 (lowercase hex) of the package, when known, so the agent can say whether it holds those exact bytes.</summary>
        public string? PackageMd5 { get; init; }
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
    }

    public sealed record AgentHealth
    {
        public bool Healthy { get; init; }
        public string? AgentVersion { get; init; }
    }

    public sealed record AgentServiceStatus
    {
        public string Service { get; init; } = "";
        public string? ActiveVersion { get; init; }
        public string? ActiveFVersion { get; init; }
        public IReadOnlyList<string> StoredVersions { get; init; } = Array.Empty<string>();
    }

    public sealed record AgentStatus
    {
        public IReadOnlyList<AgentServiceStatus> Services { get; init; } = Array.Empty<AgentServiceStatus>();
    }
}
