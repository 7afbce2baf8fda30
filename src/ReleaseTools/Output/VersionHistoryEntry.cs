using System;

namespace ReleaseTools
{
    /// <summary>
    /// One move of one instance to a release, or one attempt its agent reverted (Outcome Reverted: the instance stayed on
    /// PreviousVersion), newest first in Get-InstanceVersionHistory output.
    /// </summary>
    public sealed class VersionHistoryEntry
    {
        public long Sequence { get; set; }
        public string InstanceId { get; set; } = "";
        public string Service { get; set; } = "";
        public string Environment { get; set; } = "";
        public string Version { get; set; } = "";
        public string FVersion { get; set; } = "";
        public string? PreviousVersion { get; set; }
        public ReleaseOperation Operation { get; set; }
        public VersionHistoryOutcome Outcome { get; set; }
        /// <summary>For a reverted attempt: the hook or check that failed (beforeActivate, activate, afterActivate, healthCheck, unpack).</summary>
        public string? FailedCheck { get; set; }
        public string DeploymentId { get; set; } = "";
        public string? PackageUrl { get; set; }
        public string? PackageMd5 { get; set; }
        public string? ConfigDigest { get; set; }
        public string? ConfigFileName { get; set; }
        /// <summary>In the local time zone.</summary>
        public DateTimeOffset RecordedAt { get; set; }

        public override string ToString() => InstanceId + " " + Version;
    }
}
