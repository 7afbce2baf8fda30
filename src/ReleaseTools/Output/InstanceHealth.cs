namespace ReleaseTools
{
    /// <summary>Result of Test-ServiceInstance: whether the instance's Floyd agent answers, and what it runs.</summary>
    public sealed class InstanceHealth
    {
        public string InstanceId { get; set; } = "";
        public string Service { get; set; } = "";
        public string Host { get; set; } = "";
        public int Port { get; set; }
        public bool Reachable { get; set; }
        public bool Healthy { get; set; }
        /// <summary>The version the agent reports as active.</summary>
        public string? Version { get; set; }
        public string? FVersion { get; set; }
        public string? AgentVersion { get; set; }
        /// <summary>Round trip of the health request in milliseconds, as Test-Connection reports latency.</summary>
        public double LatencyMilliseconds { get; set; }
        public string? Error { get; set; }

        public override string ToString() => InstanceId + (Healthy ? " healthy" : " unhealthy");
    }
}
