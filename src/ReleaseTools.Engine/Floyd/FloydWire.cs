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
        /// <summary>Protocol 1.1: asks for a single-use ticket for one push of these bytes (section 2.5); null: none.</summary>
        [JsonPropertyName("upload")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public UploadRequestBody? Upload { get; set; }
    }

    /// <summary>The push a ping asks a ticket for: its endpoint and the MD5 and size of the file it will carry.</summary>
    public sealed class UploadRequestBody
    {
        /// <summary><c>/package</c> or <c>/config</c>.</summary>
        [JsonPropertyName("path")] public string? Path { get; set; }
        [JsonPropertyName("md5")] public string? Md5 { get; set; }
        [JsonPropertyName("bytes")] public long? Bytes { get; set; }
    }

    public sealed class PingResponseBody
    {
        [JsonPropertyName("needPackage")] public bool NeedPackage { get; set; }
        [JsonPropertyName("needConfig")] public bool NeedConfig { get; set; }
        [JsonPropertyName("currentVersion")] public string? CurrentVersion { get; set; }
        [JsonPropertyName("currentFVersion")] public string? CurrentFVersion { get; set; }
        /// <summary>The ticket a ping with <c>upload</c> was issued; absent otherwise (and from 1.0 agents).</summary>
        [JsonPropertyName("uploadTicket")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? UploadTicket { get; set; }
    }

    public sealed class ActivateRequestBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        [JsonPropertyName("version")] public string? Version { get; set; }
        [JsonPropertyName("fversion")] public string? FVersion { get; set; }
        /// <summary>Run the hooks and the health gate even when this release is already active (a redeploy). Left out when false.</summary>
        [JsonPropertyName("reactivate")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
        public bool Reactivate { get; set; }
    }

    public sealed class ActivateResponseBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        [JsonPropertyName("version")] public string? Version { get; set; }
        [JsonPropertyName("fversion")] public string? FVersion { get; set; }
        [JsonPropertyName("previousVersion")] public string? PreviousVersion { get; set; }
        [JsonPropertyName("previousFVersion")] public string? PreviousFVersion { get; set; }
        /// <summary>"passed" when the service's health gate passed, "none" when the service has no gate.</summary>
        [JsonPropertyName("healthCheck")] public string? HealthCheck { get; set; }
        /// <summary>The hooks that ran, in order.</summary>
        [JsonPropertyName("hooks")] public List<HookReportBody> Hooks { get; set; } = new List<HookReportBody>();
    }

    /// <summary>One hook run by an activation: its stage, exit code and the last few KiB of its output.</summary>
    public sealed class HookReportBody
    {
        [JsonPropertyName("stage")] public string? Stage { get; set; }
        /// <summary>"config" for a hook of the agent config file, "package" for one shipped in the package.</summary>
        [JsonPropertyName("source")] public string? Source { get; set; }
        /// <summary>Null when the hook did not exit by itself (timed out).</summary>
        [JsonPropertyName("exitCode")] public int? ExitCode { get; set; }
        [JsonPropertyName("timedOut")] public bool TimedOut { get; set; }
        [JsonPropertyName("durationMs")] public long DurationMs { get; set; }
        [JsonPropertyName("output")] public string? Output { get; set; }
    }

    /// <summary>The <c>activation</c> member of a hook_failed, health_check_failed, revert_failed or package_* error body.</summary>
    public sealed class ActivationFailureBody
    {
        /// <summary>unpack, beforeActivate, activate, afterActivate or healthCheck.</summary>
        [JsonPropertyName("failedStep")] public string? FailedStep { get; set; }
        /// <summary>One line for a person: the command and its exit code, or the check and what it saw.</summary>
        [JsonPropertyName("detail")] public string? Detail { get; set; }
        /// <summary>The failed hook's last output, or the health check's last response body excerpt.</summary>
        [JsonPropertyName("output")] public string? Output { get; set; }
        /// <summary>True when the agent switched back to the previous release and it passed its gate again.</summary>
        [JsonPropertyName("reverted")] public bool Reverted { get; set; }
        /// <summary>The release active after the failure (the previous one when reverted), null if none.</summary>
        [JsonPropertyName("activeVersion")] public string? ActiveVersion { get; set; }
        [JsonPropertyName("activeFVersion")] public string? ActiveFVersion { get; set; }
        /// <summary>With revert_failed: what went wrong while going back.</summary>
        [JsonPropertyName("revertDetail")] public string? RevertDetail { get; set; }
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
        /// <summary>Absent from agents of the original protocol (1.0).</summary>
        [JsonPropertyName("protocol")] public string? Protocol { get; set; }
        [JsonPropertyName("agentId")] public string? AgentId { get; set; }
        /// <summary>What a 1.1 agent supports beyond the base protocol, such as "instances" (section 4.1); absent: nothing.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        [JsonPropertyName("features")] public List<string>? Features { get; set; }
    }

    public sealed class StatusBody
    {
        [JsonPropertyName("services")] public List<ServiceStatusBody> Services { get; set; } = new List<ServiceStatusBody>();
    }

    public sealed class ServiceStatusBody
    {
        [JsonPropertyName("service")] public string? Service { get; set; }
        /// <summary>The instance id of a non-default instance (section 4.1); null (left out) for the default instance.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        [JsonPropertyName("instance")] public string? Instance { get; set; }
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
        /// <summary>Present on activation failures only.</summary>
        [JsonPropertyName("activation")] public ActivationFailureBody? Activation { get; set; }
    }
}
