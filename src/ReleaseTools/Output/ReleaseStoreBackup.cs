using System;

namespace ReleaseTools
{
    /// <summary>A store backup: where it is, which store it came from, and what it holds (row counts and its digest).</summary>
    public sealed class ReleaseStoreBackup
    {
        /// <summary>The backup file.</summary>
        public string Path { get; set; } = "";
        /// <summary>The store the backup was taken from (a file path, or a server address without its password).</summary>
        public string SourceStore { get; set; } = "";
        /// <summary>Sqlite or PostgreSql.</summary>
        public string SourceKind { get; set; } = "";
        /// <summary>The source store's schema version, in that store's own numbering.</summary>
        public int SchemaVersion { get; set; }
        public int FormatVersion { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public long Instances { get; set; }
        public long Deployments { get; set; }
        public long Targets { get; set; }
        public long HistoryRows { get; set; }
        public long ConfigSnapshots { get; set; }
        public long AuditEntries { get; set; }
        /// <summary>Releases of the lifecycle (0 for a backup older than format 3, which does not carry them).</summary>
        public long Releases { get; set; }
        /// <summary>The releases' recorded transitions (their history).</summary>
        public long ReleaseTransitions { get; set; }
        /// <summary>Registered webhooks, with their URLs and secrets (see Backup-ReleaseStore).</summary>
        public long Webhooks { get; set; }
        /// <summary>Rows of the webhooks' delivery log.</summary>
        public long WebhookDeliveries { get; set; }
        /// <summary>SHA-256 of the backup's contents, as its manifest records it.</summary>
        public string ContentDigest { get; set; } = "";

        public override string ToString() => Path;
    }
}
