namespace ReleaseTools
{
    /// <summary>One instance's outcome in one deployment, rollback or resume run, written as soon as the instance finishes.</summary>
    public sealed class DeploymentResult
    {
        public string InstanceId { get; set; } = "";
        public string Service { get; set; } = "";
        public string Environment { get; set; } = "";
        public string? FromVersion { get; set; }
        public string ToVersion { get; set; } = "";
        /// <summary>Succeeded, Unchanged, Failed, Unreachable, Skipped, Cancelled, RolledBack or Superseded.</summary>
        public DeploymentTargetStatus Status { get; set; }
        public int Batch { get; set; }
        /// <summary>Whether package bytes were sent to the agent (false when it already held them).</summary>
        public bool Transferred { get; set; }
        /// <summary>How long the instance took, in seconds (a number, so it reads the same in a table, JSON and CSV).</summary>
        public double DurationSeconds { get; set; }
        public int Attempts { get; set; }
        /// <summary>The Floyd step that failed (ping, package, config, activate, verify), if any.</summary>
        public string? FailedStep { get; set; }
        public string? Error { get; set; }
        public string? ErrorId { get; set; }
        /// <summary>True when the service's health gate passed on the agent, false when it failed, null when the service has none (or activation stopped before it).</summary>
        public bool? HealthGatePassed { get; set; }
        /// <summary>The activation step that failed on the agent: unpack, beforeActivate, activate, afterActivate or healthCheck.</summary>
        public string? FailedCheck { get; set; }
        /// <summary>The agent's account of the failed activation, with the hook's or check's last output.</summary>
        public string? AgentDetail { get; set; }
        /// <summary>The version the agent went back to after a failed activation; the instance runs it again.</summary>
        public string? RevertedTo { get; set; }
        /// <summary>Where the config came from: rendered from a template, a ready file, kept from the last release, restored, or empty.</summary>
        public string? Config { get; set; }
        public ReleaseOperation Operation { get; set; }
        public string DeploymentId { get; set; } = "";

        public override string ToString() => InstanceId + " " + Status;
    }
}
