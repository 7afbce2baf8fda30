using System;
using System.Data.Common;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// Reads the store's rows into records, the same for both backends: the SQLite and PostgreSQL schemas keep the same
    /// columns in the same order, times as unix milliseconds and flags that both providers read with GetBoolean.
    /// </summary>
    internal static class StoreRows
    {
        public static string? NullableString(this DbDataReader reader, int ordinal) =>
            reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

        public static DateTimeOffset? NullableTime(this DbDataReader reader, int ordinal) =>
            reader.IsDBNull(ordinal) ? (DateTimeOffset?)null : StoreValues.FromUnixMs(reader.GetInt64(ordinal));

        public static DateTimeOffset Time(this DbDataReader reader, int ordinal) => StoreValues.FromUnixMs(reader.GetInt64(ordinal));

        public static DeploymentRecord ReadDeployment(DbDataReader reader) => new DeploymentRecord
        {
            DeploymentId = reader.GetString(0),
            Operation = StoreValues.Parse<DeploymentOperation>(reader.GetString(1)),
            Service = reader.GetString(2),
            TargetVersion = reader.GetString(3),
            PackageUrl = reader.NullableString(4),
            PackageMd5 = reader.NullableString(5),
            FVersion = reader.NullableString(6),
            InitiatedBy = reader.GetString(7),
            InitiatedFrom = reader.GetString(8),
            BatchCount = reader.GetInt32(9),
            ParametersJson = reader.NullableString(10),
            ResumedFrom = reader.NullableString(11),
            Status = StoreValues.Parse<DeploymentStatus>(reader.GetString(12)),
            TotalTargets = reader.GetInt32(13),
            SucceededTargets = reader.GetInt32(14),
            FailedTargets = reader.GetInt32(15),
            SkippedTargets = reader.GetInt32(16),
            CreatedAt = reader.Time(17),
            StartedAt = reader.NullableTime(18),
            EndedAt = reader.NullableTime(19),
            ResumedBy = reader.NullableString(20),
            CancelledTargets = reader.GetInt32(21),
        };

        public static AuditEntry ReadAudit(DbDataReader reader) => new AuditEntry
        {
            Sequence = reader.GetInt64(0),
            DeploymentId = reader.GetString(1),
            Kind = reader.GetString(2),
            Message = reader.GetString(3),
            RecordedAt = reader.Time(4),
        };

        public static DeploymentTargetRecord ReadTarget(DbDataReader reader) => new DeploymentTargetRecord
        {
            DeploymentId = reader.GetString(0),
            InstanceId = reader.GetString(1),
            Service = reader.GetString(2),
            Environment = reader.GetString(3),
            Batch = reader.GetInt32(4),
            TargetVersion = reader.GetString(5),
            TargetFVersion = reader.NullableString(6),
            FromVersion = reader.NullableString(7),
            FromFVersion = reader.NullableString(8),
            Status = StoreValues.Parse<TargetStatus>(reader.GetString(9)),
            Attempts = reader.GetInt32(10),
            PackageTransferred = reader.GetBoolean(11),
            ConfigTransferred = reader.GetBoolean(12),
            FailedStep = reader.NullableString(13),
            Error = reader.NullableString(14),
            StartedAt = reader.NullableTime(15),
            EndedAt = reader.NullableTime(16),
        };

        public static LeaseRecord ReadLease(DbDataReader reader) => new LeaseRecord
        {
            InstanceId = reader.GetString(0),
            Owner = new LeaseOwner
            {
                DeploymentId = reader.GetString(1),
                HostName = reader.GetString(2),
                ProcessId = reader.GetInt32(3),
                ProcessStartedAt = reader.NullableTime(4),
            },
            AcquiredAt = reader.Time(5),
            HeartbeatAt = reader.Time(6),
            ExpiresAt = reader.Time(7),
            FencingToken = reader.GetInt64(8),
        };

        public static InstanceRecord ReadInstance(DbDataReader reader) => new InstanceRecord
        {
            InstanceId = reader.GetString(0),
            Service = reader.GetString(1),
            Environment = reader.GetString(2),
            Host = reader.GetString(3),
            Port = reader.GetInt32(4),
            Tags = StoreValues.Tags(reader.GetString(5)),
            Version = reader.NullableString(6),
            FVersion = reader.NullableString(7),
            Status = StoreValues.Parse<InstanceStatus>(reader.GetString(8)),
            UpdatedAt = reader.Time(9),
            AgentInstance = reader.NullableString(10),
            UseHttps = Convert.ToBoolean(reader.GetValue(11), System.Globalization.CultureInfo.InvariantCulture),
            AgentCertificate = reader.NullableString(12),
        };

        public static VersionHistoryRecord ReadHistory(DbDataReader reader) => new VersionHistoryRecord
        {
            Sequence = reader.GetInt64(0),
            InstanceId = reader.GetString(1),
            Service = reader.GetString(2),
            Environment = reader.GetString(3),
            Version = reader.GetString(4),
            FVersion = reader.GetString(5),
            PreviousVersion = reader.NullableString(6),
            PreviousFVersion = reader.NullableString(7),
            DeploymentId = reader.GetString(8),
            Operation = StoreValues.Parse<DeploymentOperation>(reader.GetString(9)),
            PackageUrl = reader.NullableString(10),
            PackageMd5 = reader.NullableString(11),
            ConfigDigest = reader.NullableString(12),
            ConfigFileName = reader.NullableString(13),
            RecordedAt = reader.Time(14),
            Outcome = StoreValues.Parse<HistoryOutcome>(reader.GetString(15)),
            FailedCheck = reader.NullableString(16),
        };

        public const string WebhookColumns = "name, url, format, enabled, secret, created_at, updated_at";

        public static WebhookRecord ReadWebhook(DbDataReader reader) => new WebhookRecord
        {
            Name = reader.GetString(0),
            Url = reader.GetString(1),
            Format = StoreValues.Parse<WebhookFormat>(reader.GetString(2)),
            Enabled = reader.GetBoolean(3),
            Secret = reader.NullableString(4),
            CreatedAt = reader.Time(5),
            UpdatedAt = reader.Time(6),
        };

        public const string WebhookDeliveryColumns = "sequence, webhook, notice_id, release_id, event, status, attempts, last_status_code, error, elapsed_ms, recorded_at";

        public static WebhookDeliveryRecord ReadWebhookDelivery(DbDataReader reader) => new WebhookDeliveryRecord
        {
            Sequence = reader.GetInt64(0),
            Webhook = reader.GetString(1),
            NoticeId = reader.GetString(2),
            ReleaseId = reader.GetString(3),
            Event = reader.GetString(4),
            Status = StoreValues.Parse<WebhookDeliveryStatus>(reader.GetString(5)),
            Attempts = reader.GetInt32(6),
            LastStatusCode = reader.IsDBNull(7) ? (int?)null : reader.GetInt32(7),
            Error = reader.NullableString(8),
            Elapsed = TimeSpan.FromMilliseconds(reader.GetInt64(9)),
            RecordedAt = reader.Time(10),
        };
    }
}
