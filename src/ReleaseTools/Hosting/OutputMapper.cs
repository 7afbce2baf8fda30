using System;
using System.Linq;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Hosting
{
    /// <summary>Turns engine records into the module's public output types, so engine types never reach the pipeline.</summary>
    internal static class OutputMapper
    {
        /// <summary>
        /// An enum value as the same-named value of another enum (engine to module and back). By name, not number, so the two can never drift
        /// silently: a state the module does not know fails loudly (and a test compares the two lists).
        /// </summary>
        public static TEnum ByName<TEnum>(Enum value) where TEnum : struct
            => (TEnum)Enum.Parse(typeof(TEnum), value.ToString(), ignoreCase: false);

        public static ServiceInstance ToOutput(InstanceRecord record) => new ServiceInstance
        {
            InstanceId = record.InstanceId,
            Service = record.Service,
            Environment = record.Environment,
            Host = record.Host,
            Port = record.Port,
            AgentInstance = record.AgentInstance,
            UseHttps = record.UseHttps,
            AgentCertificateFingerprint = record.AgentCertificate,
            Tags = new TagList(record.Tags),
            Version = record.Version,
            FVersion = record.FVersion,
            Status = ByName<ServiceInstanceStatus>(record.Status),
            UpdatedAt = record.UpdatedAt.ToLocalTime(),
        };

        public static InstanceLease ToOutput(LeaseRecord lease) => new InstanceLease
        {
            InstanceId = lease.InstanceId,
            DeploymentId = lease.Owner.DeploymentId,
            HostName = lease.Owner.HostName,
            ProcessId = lease.Owner.ProcessId,
            AcquiredAt = lease.AcquiredAt.ToLocalTime(),
            ExpiresAt = lease.ExpiresAt.ToLocalTime(),
        };

        public static DeploymentResult ToOutput(TargetResult result) => new DeploymentResult
        {
            InstanceId = result.InstanceId,
            Service = result.Service,
            Environment = result.Environment,
            FromVersion = result.FromVersion,
            ToVersion = result.ToVersion,
            Status = ByName<DeploymentTargetStatus>(result.Status),
            Batch = result.Batch,
            Transferred = result.Transferred,
            DurationSeconds = Math.Round(result.Duration.TotalSeconds, 3),
            Attempts = result.Attempts,
            FailedStep = result.FailedStep,
            Error = result.Error,
            ErrorId = result.ErrorId,
            HealthGatePassed = result.HealthGatePassed,
            FailedCheck = result.FailedCheck,
            AgentDetail = result.AgentDetail,
            RevertedTo = result.RevertedTo,
            Config = result.Config,
            Operation = ByName<ReleaseOperation>(result.Operation),
            DeploymentId = result.DeploymentId,
        };

        public static VersionHistoryEntry ToOutput(VersionHistoryRecord record) => new VersionHistoryEntry
        {
            Sequence = record.Sequence,
            InstanceId = record.InstanceId,
            Service = record.Service,
            Environment = record.Environment,
            Version = record.Version,
            FVersion = record.FVersion,
            PreviousVersion = record.PreviousVersion,
            Operation = ByName<ReleaseOperation>(record.Operation),
            Outcome = ByName<VersionHistoryOutcome>(record.Outcome),
            FailedCheck = record.FailedCheck,
            DeploymentId = record.DeploymentId,
            PackageUrl = record.PackageUrl,
            PackageMd5 = record.PackageMd5,
            ConfigDigest = record.ConfigDigest,
            ConfigFileName = record.ConfigFileName,
            RecordedAt = record.RecordedAt.ToLocalTime(),
        };

        public static InstanceHealth ToOutput(InstanceHealthResult result) => new InstanceHealth
        {
            InstanceId = result.InstanceId,
            Service = result.Service,
            Host = result.Host,
            Port = result.Port,
            Reachable = result.Reachable,
            Healthy = result.Healthy,
            Version = result.ActiveVersion,
            FVersion = result.ActiveFVersion,
            AgentVersion = result.AgentVersion,
            LatencyMilliseconds = Math.Round(result.Latency.TotalMilliseconds, 1),
            Error = result.Error,
        };

        public static DeploymentTarget ToOutput(DeploymentTargetRecord target) => new DeploymentTarget
        {
            DeploymentId = target.DeploymentId,
            InstanceId = target.InstanceId,
            Service = target.Service,
            Environment = target.Environment,
            Batch = target.Batch,
            FromVersion = target.FromVersion,
            ToVersion = target.TargetVersion,
            Status = ByName<DeploymentTargetStatus>(target.Status),
            Attempts = target.Attempts,
            Transferred = target.PackageTransferred,
            FailedStep = target.FailedStep,
            Error = target.Error,
            StartedAt = target.StartedAt?.ToLocalTime(),
            EndedAt = target.EndedAt?.ToLocalTime(),
        };

        public static ReleaseDeployment ToOutput(DeploymentRecord record, System.Collections.Generic.IReadOnlyList<DeploymentTargetRecord> targets) => new ReleaseDeployment
        {
            DeploymentId = record.DeploymentId,
            Operation = ByName<ReleaseOperation>(record.Operation),
            Service = record.Service,
            Version = record.TargetVersion,
            Status = ByName<ReleaseDeploymentStatus>(record.Status),
            Total = record.TotalTargets,
            Succeeded = record.SucceededTargets,
            Failed = record.FailedTargets,
            Skipped = record.SkippedTargets,
            Cancelled = record.CancelledTargets,
            PackageUrl = record.PackageUrl,
            PackageMd5 = record.PackageMd5,
            InitiatedBy = record.InitiatedBy,
            InitiatedFrom = record.InitiatedFrom,
            ResumedFrom = record.ResumedFrom,
            ResumedBy = record.ResumedBy,
            CreatedAt = record.CreatedAt.ToLocalTime(),
            StartedAt = record.StartedAt?.ToLocalTime(),
            EndedAt = record.EndedAt?.ToLocalTime(),
            Targets = new DeploymentTargetList(targets.Select(ToOutput)),
            Batches = new DeploymentBatchList(targets
                .GroupBy(t => t.Batch)
                .OrderBy(g => g.Key)
                .Select(g => new DeploymentBatchState
                {
                    Batch = g.Key,
                    Total = g.Count(),
                    Succeeded = g.Count(t => t.Status == TargetStatus.Succeeded),
                    Unchanged = g.Count(t => t.Status == TargetStatus.Unchanged),
                    Failed = g.Count(t => t.Status == TargetStatus.Failed || t.Status == TargetStatus.Unreachable),
                    Skipped = g.Count(t => t.Status == TargetStatus.Skipped || t.Status == TargetStatus.Cancelled),
                    Pending = g.Count(t => t.Status == TargetStatus.Pending || t.Status == TargetStatus.Running),
                })),
        };

        public static ReleaseStoreBackup ToBackup(Engine.Store.Portable.BackupManifest manifest, string path) => new ReleaseStoreBackup
        {
            Path = path,
            SourceStore = manifest.SourceStore,
            SourceKind = manifest.SourceKind == "postgresql" ? "PostgreSql" : "Sqlite",
            SchemaVersion = manifest.SourceSchemaVersion,
            FormatVersion = manifest.FormatVersion,
            CreatedAt = manifest.CreatedAt.ToLocalTime(),
            Instances = Count(manifest, "Instances"),
            Deployments = Count(manifest, "Deployments"),
            Targets = Count(manifest, "Targets"),
            HistoryRows = Count(manifest, "HistoryRows"),
            ConfigSnapshots = Count(manifest, "ConfigSnapshots"),
            AuditEntries = Count(manifest, "AuditEntries"),
            Releases = Count(manifest, "Releases"),
            ReleaseTransitions = Count(manifest, "ReleaseTransitions"),
            Webhooks = Count(manifest, "Webhooks"),
            WebhookDeliveries = Count(manifest, "WebhookDeliveries"),
            ContentDigest = manifest.ContentDigest,
        };

        private static long Count(Engine.Store.Portable.BackupManifest manifest, string label) => manifest.Counts.TryGetValue(label, out var count) ? count : 0;

        public static ReleaseWebhook ToOutput(WebhookRecord webhook) => new ReleaseWebhook
        {
            Name = webhook.Name,
            Format = ByName<ReleaseWebhookFormat>(webhook.Format),
            Enabled = webhook.Enabled,
            Url = WebhookRules.Redact(webhook.Url),
            HasSecret = !string.IsNullOrEmpty(webhook.Secret),
            CreatedAt = webhook.CreatedAt.ToLocalTime(),
            UpdatedAt = webhook.UpdatedAt.ToLocalTime(),
        };

        public static ReleaseNotification ToOutput(WebhookDeliveryRecord delivery) => new ReleaseNotification
        {
            Webhook = delivery.Webhook,
            ReleaseId = delivery.ReleaseId,
            Event = delivery.Event,
            Status = ByName<ReleaseNotificationStatus>(delivery.Status),
            Attempts = delivery.Attempts,
            LastStatusCode = delivery.LastStatusCode,
            Error = delivery.Error,
            Elapsed = delivery.Elapsed,
            RecordedAt = delivery.RecordedAt.ToLocalTime(),
            NoticeId = delivery.NoticeId,
        };

        public static ReleaseNotification ToOutput(Engine.Lifecycle.Notifications.WebhookDeliveryResult result, Engine.Lifecycle.Notifications.ReleaseNotice notice) => new ReleaseNotification
        {
            Webhook = result.Webhook,
            ReleaseId = notice.ReleaseId,
            Event = notice.Event,
            Status = result.Delivered ? ReleaseNotificationStatus.Delivered : ReleaseNotificationStatus.Failed,
            Attempts = result.Attempts,
            LastStatusCode = result.LastStatusCode,
            Error = result.Error,
            Elapsed = result.Elapsed,
            RecordedAt = DateTimeOffset.Now,
            NoticeId = notice.NoticeId,
        };
    }
}
