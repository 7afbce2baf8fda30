using System.Collections.Generic;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ReleaseTools.Engine.Floyd.Wire
{
    // The JSON bodies of docs/floyd-protocol.md, with their names spelled out so the wire format never follows a C# rename.

    public static class FloydJson
    {
        public static readonly JsonSerializerOptions Options = new JsonSerializerOptions
        {
            PropertyNameCaseInsensitive = false,
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            // Bodies are signed bytes and agent logs are read by people: keep '+', quotes and non-ASCII text as written.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
    }

    public sealed class PingRequestBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        [JsonPropertyName("version")] public string? Version { get; set; }
        [JsonPropertyName("fversion")] public string? FVersion { get; set; }
        [JsonPropertyName("packageMd5")] public string? PackageMd5 { get; set; }
        [JsonPropertyName("message")] public string? Message { get; set; }
    }

    public sealed class PingResponseBody
    {
        [JsonPropertyName("needPackage")] public bool NeedPackage { get; set; }
        [JsonPropertyName("needConfig")] public bool NeedConfig { get; set; }
        [JsonPropertyName("currentVersion")] public string? CurrentVersion { get; set; }
        [JsonPropertyName("currentFVersion")] public string? CurrentFVersion { get; set; }
    }

    public sealed class ActivateRequestBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        [JsonPropertyName("version")] public string? Version { get; set; }
        [JsonPropertyName("fversion")] public string? FVersion { get; set; }
    }

    public sealed class ActivateResponseBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        [JsonPropertyName("version")] public string? Version { get; set; }
        [JsonPropertyName("fversion")] public string? FVersion { get; set; }
        [JsonPropertyName("previousVersion")] public string? PreviousVersion { get; set; }
        [JsonPropertyName("previousFVersion")] public string? PreviousFVersion { get; set; }
    }

    public sealed class PackageReceiptBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        [JsonPropertyName("version")] public string? Version { get; set; }
        [JsonPropertyName("md5")] public string? Md5 { get; set; }
        [JsonPropertyName("bytes")] public long Bytes { get; set; }
        /// <summary>True when the agent already held these bytes and stored nothing new.</summary>
        [JsonPropertyName("alreadyStored")] public bool AlreadyStored { get; set; }
    }

    public sealed class ConfigReceiptBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        [JsonPropertyName("version")] public string? Version { get; set; }
        [JsonPropertyName("fversion")] public string? FVersion { get; set; }
        [JsonPropertyName("fileName")] public string? FileName { get; set; }
        [JsonPropertyName("md5")] public string? Md5 { get; set; }
    }

    public sealed class HealthBody
    {
        [JsonPropertyName("status")] public string? Status { get; set; }
        [JsonPropertyName("agentVersion")] public string? AgentVersion { get; set; }
        [JsonPropertyName("hashAlgorithm")] public string? HashAlgorithm { get; set; }
    }

    public sealed class StatusBody
    {
        [JsonPropertyName("services")] public List<ServiceStatusBody> Services { get; set; } = new List<ServiceStatusBody>();
    }

    public sealed class ServiceStatusBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        [JsonPropertyName("activeVersion")] public string? ActiveVersion { get; set; }
        [JsonPropertyName("activeFVersion")] public string? ActiveFVersion { get; set; }
        [JsonPropertyName("activatedAt")] public string? ActivatedAt { get; set; }
        [JsonPropertyName("storedVersions")] public List<string> StoredVersions { get; set; } = new List<string>();
        [JsonPropertyName("storedFVersions")] public List<string> StoredFVersions { get; set; } = new List<string>();
    }

    public sealed class ErrorBody
    {
        [JsonPropertyName("error")] public string? Error { get; set; }
        [JsonPropertyName("message")] public string? Message { get; set; }
    }
}
