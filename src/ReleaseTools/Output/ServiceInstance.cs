using System;

namespace ReleaseTools
{
    /// <summary>A registered service instance and what it runs, as the store knows it. Property names match the cmdlets' parameter names so objects bind by property name.</summary>
    public sealed class ServiceInstance
    {
        public string InstanceId { get; set; } = "";
        public string Service { get; set; } = "";
        public string Environment { get; set; } = "";
        public string Host { get; set; } = "";
        public int Port { get; set; }
        /// <summary>Which of its agent's instances this is (several instances of a service behind one agent); null: the agent's default instance.</summary>
        public string? AgentInstance { get; set; }
        /// <summary>The agent is reached over HTTPS.</summary>
        public bool UseHttps { get; set; }
        /// <summary>The SHA-256 fingerprint of the agent's TLS certificate that is trusted for this instance; null: the machine's trust store decides.</summary>
        public string? AgentCertificateFingerprint { get; set; }
        /// <summary>Written to CSV as "a;b"; Register-ServiceInstance splits that again.</summary>
        public TagList Tags { get; set; } = new TagList(Array.Empty<string>());
        /// <summary>Null until the first release reaches the instance.</summary>
        public string? Version { get; set; }
        public string? FVersion { get; set; }
        public ServiceInstanceStatus Status { get; set; }
        /// <summary>In the local time zone (the instant is exact: it is a DateTimeOffset).</summary>
        public DateTimeOffset UpdatedAt { get; set; }

        public override string ToString() => InstanceId;
    }
}
