using System;

namespace ReleaseTools
{
    /// <summary>One move of one instance to a release, newest first in Get-InstanceVersionHistory output.</summary>
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
