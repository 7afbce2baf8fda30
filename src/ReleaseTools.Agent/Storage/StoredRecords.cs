using System.Text.Json.Serialization;

namespace ReleaseTools.Agent.Storage;

// The small JSON files of the data directory. Each is written to a temporary name and renamed into place, so a
// reader (or a restarted agent) sees the old file or the new one, never half of one.

public sealed record VersionRecord(
    [property: JsonPropertyName("packageMd5")] string PackageMd5,
    [property: JsonPropertyName("fileName")] string FileName,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("receivedAt")] DateTimeOffset ReceivedAt);

public sealed record ConfigRecord(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("fileName")] string FileName,
    [property: JsonPropertyName("md5")] string Md5,
    [property: JsonPropertyName("receivedAt")] DateTimeOffset ReceivedAt);

public sealed record ActivationRecord(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("fversion")] string FVersion,
    [property: JsonPropertyName("activatedAt")] DateTimeOffset ActivatedAt);

public sealed record ActiveRecord(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("fversion")] string FVersion,
    [property: JsonPropertyName("packageMd5")] string PackageMd5,
    [property: JsonPropertyName("configFile")] string ConfigFile,
    [property: JsonPropertyName("activatedAt")] DateTimeOffset ActivatedAt,
    [property: JsonPropertyName("previousVersion")] string? PreviousVersion,
    [property: JsonPropertyName("previousFVersion")] string? PreviousFVersion,
    [property: JsonPropertyName("history")] IReadOnlyList<ActivationRecord> History);

/// <summary>An activation under way: what it switches to and from. Deleted when the activation is decided.</summary>
public sealed record ActivationJournal(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("fversion")] string FVersion,
    [property: JsonPropertyName("previousVersion")] string? PreviousVersion,
    [property: JsonPropertyName("previousFVersion")] string? PreviousFVersion,
    [property: JsonPropertyName("startedAt")] DateTimeOffset StartedAt);
