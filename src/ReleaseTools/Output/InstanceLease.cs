using System;

namespace ReleaseTools
{
    /// <summary>A lease a run held on an instance (what Unlock-ServiceInstance -PassThru released).</summary>
    public sealed class InstanceLease
    {
        public string InstanceId { get; set; } = "";
        /// <summary>The run that held the lease.</summary>
        public string DeploymentId { get; set; } = "";
        public string HostName { get; set; } = "";
        public int ProcessId { get; set; }
        public DateTimeOffset AcquiredAt { get; set; }
        public DateTimeOffset ExpiresAt { get; set; }

        public override string ToString() => InstanceId + " " + DeploymentId;
    }
}
