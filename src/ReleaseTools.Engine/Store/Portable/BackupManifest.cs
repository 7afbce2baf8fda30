using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;

namespace ReleaseTools.Engine.Store.Portable
{
    /// <summary>What a backup holds: where it came from, and the row count and digest of every kind of record.</summary>
    public sealed record BackupManifest
    {
        public int FormatVersion { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        /// <summary>sqlite or postgresql.</summary>
        public string SourceKind { get; init; } = "";
        /// <summary>The store it was taken from, as messages name it (never with a password).</summary>
        public string SourceStore { get; init; } = "";
        /// <summary>The schema version of the store it was taken from, in that store's own numbering.</summary>
        public int SourceSchemaVersion { get; init; }
        /// <summary>
        /// Rows per kind of record: Instances, Deployments, Targets, HistoryRows, ConfigSnapshots, AuditEntries, ServiceVersions, and
        /// since format 3 Releases, ReleaseEntries, ReleaseConfigs, ReleaseTransitions, ReleaseApprovals, ReleaseRuns, ReleasePolicy,
        /// Webhooks, WebhookDeliveries (absent from the manifest of an older backup).
        /// </summary>
        public IReadOnlyDictionary<string, long> Counts { get; init; } = new Dictionary<string, long>();
        /// <summary>SHA-256 per kind of record over its rows' canonical form, independent of row order and of the store kind.</summary>
        public IReadOnlyDictionary<string, string> Digests { get; init; } = new Dictionary<string, string>();
        /// <summary>SHA-256 of the file's lines before the manifest; empty for a summary of a live store.</summary>
        public string ContentDigest { get; init; } = "";

        internal Dictionary<string, object> ToJson() => new Dictionary<string, object>
        {
            ["formatVersion"] = FormatVersion,
            ["createdAt"] = CreatedAt.ToString("o", CultureInfo.InvariantCulture),
            ["source"] = new Dictionary<string, object> { ["kind"] = SourceKind, ["store"] = SourceStore, ["schemaVersion"] = SourceSchemaVersion },
            ["counts"] = Counts,
            ["digests"] = Digests,
            ["contentDigest"] = ContentDigest,
        };

        internal static BackupManifest FromJson(JsonElement element, Func<Exception> malformed)
        {
            try
            {
                var source = element.GetProperty("source");
                return new BackupManifest
                {
                    FormatVersion = element.GetProperty("formatVersion").GetInt32(),
                    CreatedAt = DateTimeOffset.Parse(element.GetProperty("createdAt").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                    SourceKind = source.GetProperty("kind").GetString() ?? "",
                    SourceStore = source.GetProperty("store").GetString() ?? "",
                    SourceSchemaVersion = source.GetProperty("schemaVersion").GetInt32(),
                    Counts = element.GetProperty("counts").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64(), StringComparer.Ordinal),
                    Digests = element.GetProperty("digests").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal),
                    ContentDigest = element.GetProperty("contentDigest").GetString() ?? "",
                };
            }
            catch (Exception ex) when (ex is KeyNotFoundException || ex is InvalidOperationException || ex is FormatException)
            {
                throw malformed();
            }
        }

        /// <summary>True when both hold the same records: equal counts and digests for every kind.</summary>
        public bool SameRecordsAs(BackupManifest other) =>
            Counts.Count == other.Counts.Count && Counts.All(c => other.Counts.TryGetValue(c.Key, out var n) && n == c.Value) &&
            Digests.All(d => other.Digests.TryGetValue(d.Key, out var x) && x == d.Value);
    }
}
