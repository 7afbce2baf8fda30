using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Linq;

namespace ReleaseTools.Engine.Store.Portable
{
    internal enum PortableKind
    {
        Text,
        Integer,
        Boolean,
        Bytes,
    }

    internal sealed class PortableColumn
    {
        public PortableColumn(string name, PortableKind kind, int sinceFormat = 1, object? missingValue = null)
        {
            Name = name;
            Kind = kind;
            SinceFormat = sinceFormat;
            MissingValue = missingValue;
        }

        public string Name { get; }
        public PortableKind Kind { get; }

        /// <summary>The first backup format that carries this column; a row of an older backup gets <see cref="MissingValue"/>.</summary>
        public int SinceFormat { get; }
        public object? MissingValue { get; }
    }

    internal sealed class PortableTable
    {
        public PortableTable(string name, string label, params PortableColumn[] columns)
            : this(name, label, sinceFormat: 1, identity: null, rows: null, columns)
        {
        }

        public PortableTable(string name, string label, int sinceFormat, string? identity, string? rows, params PortableColumn[] columns)
        {
            Name = name;
            Label = label;
            SinceFormat = sinceFormat;
            Identity = identity;
            Rows = rows;
            Columns = columns;
        }

        /// <summary>The first backup format that carries this table; restoring an older backup leaves it empty.</summary>
        public int SinceFormat { get; }

        /// <summary>The column the store numbers new rows by (an identity in PostgreSQL), which must continue after restored rows; null if none.</summary>
        public string? Identity { get; }

        /// <summary>A condition choosing the rows of the table that are carried (the table is shared with rows that are not); null for every row.</summary>
        public string? Rows { get; }

        /// <summary>The table's carried rows, for a SELECT or DELETE: the name, and the condition when only some rows are carried.</summary>
        public string Source => Rows == null ? Name : Name + " WHERE " + Rows;

        /// <summary>The table's name in both stores.</summary>
        public string Name { get; }

        /// <summary>What a person calls its rows, for the manifest.</summary>
        public string Label { get; }

        public IReadOnlyList<PortableColumn> Columns { get; }

        public string ColumnList => string.Join(", ", Columns.Select(c => c.Name));

        /// <summary>The columns a backup of the given format carries, in order (new columns are only ever added at the end).</summary>
        public IReadOnlyList<PortableColumn> ColumnsIn(int format) => Columns.Where(c => c.SinceFormat <= format).ToList();

        /// <summary>A row read from an older backup, completed with the values its missing columns mean.</summary>
        public object?[] Complete(object?[] read)
        {
            if (read.Length == Columns.Count)
            {
                return read;
            }

            var values = new object?[Columns.Count];
            Array.Copy(read, values, read.Length);
            for (var i = read.Length; i < Columns.Count; i++)
            {
                values[i] = Columns[i].MissingValue;
            }

            return values;
        }
    }

    /// <summary>
    /// The records a backup carries, named the same in the SQLite and the PostgreSQL store (the two schemas keep the
    /// same table and column names for exactly this), with one kind per column so a value reads the same from either:
    /// times are unix milliseconds, flags booleans, config snapshots bytes. Leases are not carried: they describe runs
    /// in flight on the machines of the store being backed up, not history. That holds for the instance leases of runs
    /// and for the lifecycle's named leases (the release scanner's, each stage's while it deploys) alike.
    /// Tables are listed parents first (a release before its entries, frozen configs, transitions, approvals and runs;
    /// a config snapshot before the frozen configs naming it), and a restore writes them in this order, so any reference
    /// a row makes is already in place when it arrives.
    /// </summary>
    internal static class PortableSchema
    {
        /// <summary>
        /// Raised when the set of tables or columns changes; a backup of a newer format is refused, one of an older format is
        /// read with the values its missing columns mean. 2: history rows say whether the release stayed or was reverted.
        /// 3: the release lifecycle (releases, entries, frozen configs, transitions, approvals, stage runs, the approval
        /// policy) and the webhooks with their delivery log; an older backup restores with those tables empty.
        /// 4: instances say which of their agent's instances they are, whether it is reached over HTTPS and the certificate
        /// pinned for it; an older backup restores them as default instances over HTTP.
        /// </summary>
        public const int FormatVersion = 4;

        /// <summary>
        /// The approval policy rows of the store's key/value table. They are carried because they are the team's own rules
        /// that the restored releases go on being judged by (how many approvals, by whom): a store moved without them would
        /// quietly fall back to one approval by anyone. The other keys of that table are not carried: the schema version
        /// and format marker describe the store itself (each store numbers its own migrations), and the lease fencing
        /// counter belongs with the leases, which are not carried either.
        /// </summary>
        private const string PolicyRows = "key LIKE '" + LifecycleStore.PolicyKeyPrefix + "%'";

        private static PortableColumn T(string name) => new PortableColumn(name, PortableKind.Text);
        private static PortableColumn I(string name) => new PortableColumn(name, PortableKind.Integer);
        private static PortableColumn B(string name) => new PortableColumn(name, PortableKind.Boolean);

        public static IReadOnlyList<PortableTable> Tables { get; } = new[]
        {
            new PortableTable("instances", "Instances",
                T("instance_id"), T("service"), T("environment"), T("host"), I("port"), T("tags"), T("version"), T("fversion"), T("status"), I("updated_at"),
                new PortableColumn("agent_instance", PortableKind.Text, sinceFormat: 4), new PortableColumn("use_https", PortableKind.Boolean, sinceFormat: 4, missingValue: false),
                new PortableColumn("agent_certificate", PortableKind.Text, sinceFormat: 4)),
            new PortableTable("deployments", "Deployments",
                T("deployment_id"), T("operation"), T("service"), T("target_version"), T("package_url"), T("package_md5"), T("fversion"), T("initiated_by"),
                T("initiated_from"), I("batch_count"), T("parameters_json"), T("resumed_from"), T("status"), I("total_targets"), I("succeeded_targets"),
                I("failed_targets"), I("skipped_targets"), I("created_at"), I("started_at"), I("ended_at"), T("owner_host"), I("owner_process_id"),
                I("owner_process_started_at"), T("resumed_by"), I("cancelled_targets")),
            new PortableTable("deployment_targets", "Targets",
                T("deployment_id"), T("instance_id"), T("service"), T("environment"), I("batch"), T("target_version"), T("target_fversion"), T("from_version"),
                T("from_fversion"), T("status"), I("attempts"), B("package_transferred"), B("config_transferred"), T("failed_step"), T("error"),
                I("started_at"), I("ended_at")),
            new PortableTable("version_history", "HistoryRows", sinceFormat: 1, identity: "sequence", rows: null,
                I("sequence"), T("instance_id"), T("service"), T("environment"), T("version"), T("fversion"), T("previous_version"), T("previous_fversion"),
                T("deployment_id"), T("operation"), T("package_url"), T("package_md5"), T("config_digest"), T("config_file_name"), I("recorded_at"),
                new PortableColumn("outcome", PortableKind.Text, sinceFormat: 2, missingValue: "released"), new PortableColumn("failed_check", PortableKind.Text, sinceFormat: 2)),
            new PortableTable("config_snapshots", "ConfigSnapshots",
                T("digest"), T("file_name"), new PortableColumn("content", PortableKind.Bytes), I("saved_at")),
            new PortableTable("deployment_audit", "AuditEntries", sinceFormat: 1, identity: "sequence", rows: null,
                I("sequence"), T("deployment_id"), T("kind"), T("message"), I("recorded_at")),
            new PortableTable("service_versions", "ServiceVersions",
                T("service"), T("version")),
            new PortableTable("releases", "Releases", sinceFormat: 3, identity: null, rows: null,
                T("release_id"), T("name"), T("description"), T("pre_environment"), T("prod_environment"), I("state"), I("revision"), T("created_by"),
                I("created_at"), I("updated_at")),
            new PortableTable("release_entries", "ReleaseEntries", sinceFormat: 3, identity: null, rows: null,
                T("release_id"), T("service"), I("position"), T("version"), T("package_url"), T("checksum"), B("allow_local_package"), T("config_kind"),
                new PortableColumn("config_content", PortableKind.Bytes), T("config_file_name"), T("config_values")),
            new PortableTable("release_config_snapshots", "ReleaseConfigs", sinceFormat: 3, identity: null, rows: null,
                T("release_id"), T("service"), T("environment"), T("digest"), T("file_name")),
            new PortableTable("release_transitions", "ReleaseTransitions", sinceFormat: 3, identity: "sequence", rows: null,
                I("sequence"), T("release_id"), T("event"), I("from_state"), I("to_state"), T("actor"), T("comment"), I("recorded_at")),
            new PortableTable("release_approvals", "ReleaseApprovals", sinceFormat: 3, identity: null, rows: null,
                T("release_id"), I("revision"), T("approver"), T("comment"), I("recorded_at")),
            new PortableTable("release_runs", "ReleaseRuns", sinceFormat: 3, identity: "sequence", rows: null,
                I("sequence"), T("release_id"), I("transition"), T("stage"), T("service"), T("environment"), T("deployment_id"), T("status"), T("error"),
                I("started_at"), I("ended_at")),
            new PortableTable("releasetools_store", "ReleasePolicy", sinceFormat: 3, identity: null, rows: PolicyRows,
                T("key"), T("value")),
            new PortableTable("webhooks", "Webhooks", sinceFormat: 3, identity: null, rows: null,
                T("name"), T("url"), T("format"), B("enabled"), T("secret"), I("created_at"), I("updated_at")),
            new PortableTable("webhook_deliveries", "WebhookDeliveries", sinceFormat: 3, identity: "sequence", rows: null,
                I("sequence"), T("webhook"), T("notice_id"), T("release_id"), T("event"), T("status"), I("attempts"), I("last_status_code"), T("error"),
                I("elapsed_ms"), I("recorded_at")),
        };

        /// <summary>The tables a backup of the given format carries.</summary>
        public static IEnumerable<PortableTable> TablesIn(int format) => Tables.Where(t => t.SinceFormat <= format);

        /// <summary>
        /// The in-flight state a replacing restore removes with the records: the leases of runs and of the lifecycle's
        /// scanner and stages, which are never carried (see above).
        /// </summary>
        public static IReadOnlyList<string> LeaseTables { get; } = new[] { "instance_leases", "lifecycle_leases" };

        /// <summary>A query for whether the store holds any carried row: true when it holds none.</summary>
        public static string NoRecordsQuery =>
            "SELECT NOT (" + string.Join(" OR ", Tables.Select(t => "EXISTS (SELECT 1 FROM " + t.Source + ")")) + ")";

        public static PortableTable? Find(string name) => Tables.FirstOrDefault(t => t.Name == name);

        /// <summary>One column's value as the portable kind: whatever the provider hands back (0/1 or bool, int or long).</summary>
        public static object? Read(DbDataReader reader, int ordinal, PortableKind kind)
        {
            if (reader.IsDBNull(ordinal))
            {
                return null;
            }

            var value = reader.GetValue(ordinal);
            switch (kind)
            {
                case PortableKind.Integer:
                    return Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
                case PortableKind.Boolean:
                    return value is bool flag ? flag : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) != 0;
                case PortableKind.Bytes:
                    return (byte[])value;
                default:
                    return Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>What a store does for backup and restore: read every portable table in one consistent snapshot, and write them back in one transaction.</summary>
    internal interface IPortableStore
    {
        /// <summary>sqlite or postgresql.</summary>
        string Kind { get; }

        /// <summary>The store's own schema version (each store numbers its migrations).</summary>
        int SchemaVersion { get; }

        /// <summary>Calls <paramref name="row"/> for every row of every <see cref="PortableSchema.Tables"/> table, all read in one snapshot.</summary>
        System.Threading.Tasks.Task ExportAsync(Action<PortableTable, object?[]> row, System.Threading.CancellationToken cancellationToken);

        /// <summary>
        /// Writes the rows in one transaction. Refuses (StoreNotEmpty) a store with any record unless <paramref name="replace"/>, which
        /// first removes every record and lease. An exception from <paramref name="rows"/> rolls everything back.
        /// </summary>
        System.Threading.Tasks.Task ImportAsync(IEnumerable<KeyValuePair<PortableTable, object?[]>> rows, bool replace, System.Threading.CancellationToken cancellationToken);

        /// <summary>True when the store holds no row of any portable table (instances, runs, history, configs, audit, releases, policy, webhooks...).</summary>
        System.Threading.Tasks.Task<bool> IsEmptyAsync(System.Threading.CancellationToken cancellationToken);
    }
}
