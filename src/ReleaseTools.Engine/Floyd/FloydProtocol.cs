using System;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>Names fixed by docs/floyd-protocol.md; client and reference agent both read them from here so they cannot drift.</summary>
    public static class FloydProtocol
    {
        /// <summary>The protocol version the reference agent speaks and the client prefers (docs/floyd-protocol.md, section 10).</summary>
        public const string Version = "1.1";

        /// <summary>Response header on every answer of a 1.1 agent; /health also carries it in its body.</summary>
        public const string ProtocolHeader = "Floyd-Protocol";

        /// <summary>Query parameter of every signed 1.1 request: the identity of the agent it is meant for.</summary>
        public const string AgentQueryParameter = "agent";

        /// <summary>Query parameter of a signed 1.1 push: the multipart boundary of its body.</summary>
        public const string BoundaryQueryParameter = "boundary";

        /// <summary>Query parameter of a signed 1.1 push: the single-use upload ticket a signed ping issued for it.</summary>
        public const string TicketQueryParameter = "ticket";

        /// <summary>
        /// Query parameter of a signed 1.1 request to one of several instances of a service on one agent (section 4.1):
        /// which instance. Absent: the agent's default instance.
        /// </summary>
        public const string InstanceQueryParameter = "instance";

        /// <summary>What a 1.1 agent that hosts several instances of a service lists in <c>features</c> of /health.</summary>
        public const string InstancesFeature = "instances";

        /// <summary>The rule of an agent instance id (section 4.1): the whole value, 1 to 64 letters, digits, '_' or '-', starting with a letter or digit.</summary>
        public const string AgentInstancePattern = "\\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\\z";

        private static readonly System.Text.RegularExpressions.Regex AgentInstanceRegex =
            new System.Text.RegularExpressions.Regex(AgentInstancePattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        /// <summary>True for an agent instance id a 1.1 agent accepts (the pattern, and not a Windows device name).</summary>
        public static bool IsValidAgentInstance(string? value) =>
            value != null && AgentInstanceRegex.IsMatch(value) && !PortableNames.IsWindowsDeviceName(value);

        public const string TimeStampHeader = "TimeStamp";
        public const string AuthorizationHeader = "Authorization";
        public const string ContentMd5Header = "Content-MD5";

        public const string Sha1Scheme = "Floyd-RSA-SHA1";
        public const string Sha256Scheme = "Floyd-RSA-SHA256";

        public const string PingPath = "/ping";
        public const string PackagePath = "/package";
        public const string ConfigPath = "/config";
        public const string ActivatePath = "/activate";
        public const string StatusPath = "/status";
        public const string HealthPath = "/health";
        public const string MetricsPath = "/metrics";

        /// <summary>Multipart field names of package and config pushes, in the order the agent requires them.</summary>
        public const string ServiceField = "service";
        public const string VersionField = "version";
        public const string FVersionField = "fversion";
        public const string FileField = "file";

        public static string SchemeFor(FloydHashAlgorithm algorithm) => algorithm switch
        {
            FloydHashAlgorithm.Sha1 => Sha1Scheme,
            FloydHashAlgorithm.Sha256 => Sha256Scheme,
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown Floyd hash algorithm."),
        };

        public static bool TryParseScheme(string scheme, out FloydHashAlgorithm algorithm)
        {
            if (string.Equals(scheme, Sha1Scheme, StringComparison.OrdinalIgnoreCase))
            {
                algorithm = FloydHashAlgorithm.Sha1;
                return true;
            }

            if (string.Equals(scheme, Sha256Scheme, StringComparison.OrdinalIgnoreCase))
            {
                algorithm = FloydHashAlgorithm.Sha256;
                return true;
            }

            algorithm = default;
            return false;
        }
    }

    /// <summary>The machine-readable <c>error</c> values of the agent's JSON error body.</summary>
    public static class FloydErrorCodes
    {
        /// <summary>
        /// Not an agent's answer: the client's own refusal to address a non-default instance on an agent that does not
        /// announce the feature (section 4.1), carried in <see cref="FloydException.AgentErrorCode"/> so callers can tell it apart.
        /// </summary>
        public const string AgentInstancesUnsupported = "agent_instances_unsupported";

        public const string SignatureMissing = "signature_missing";
        public const string SignatureMalformed = "signature_malformed";
        public const string SignatureInvalid = "signature_invalid";
        public const string SignatureAlgorithmMismatch = "signature_algorithm_mismatch";
        public const string SignatureReplayed = "signature_replayed";
        public const string TimestampInvalid = "timestamp_invalid";
        public const string TimestampStale = "timestamp_stale";
        public const string PackageMd5Mismatch = "package_md5_mismatch";
        public const string Md5HeaderInvalid = "md5_header_invalid";
        public const string InvalidName = "invalid_name";
        public const string InvalidRequest = "invalid_request";
        public const string MultipartMalformed = "multipart_malformed";
        public const string BodyTooLarge = "body_too_large";
        public const string PackageMissing = "package_missing";
        public const string ConfigMissing = "config_missing";
        /// <summary>A hook failed or timed out; the agent went back to the previous release.</summary>
        public const string HookFailed = "hook_failed";
        /// <summary>The health gate did not pass; the agent went back to the previous release.</summary>
        public const string HealthCheckFailed = "health_check_failed";
        /// <summary>Activation failed and going back to the previous release failed too: the service needs a person.</summary>
        public const string RevertFailed = "revert_failed";
        /// <summary>The archive has an entry escaping the release directory, a link pointing outside, a device file or a duplicate.</summary>
        public const string PackageUnsafe = "package_unsafe";
        /// <summary>The archive expands to more than the service's limit.</summary>
        public const string PackageTooLarge = "package_too_large";
        /// <summary>The package's name says zip or tar.gz but its bytes are not a readable archive of that kind.</summary>
        public const string PackageInvalid = "package_invalid";
        public const string ReplayCacheFull = "replay_cache_full";
        /// <summary>A 1.1 request names no agent, or another agent than this one (a replay meant for another instance).</summary>
        public const string AgentMismatch = "agent_mismatch";
        /// <summary>A service directory inside the agent's data directory is a symbolic link; the agent does not write through it.</summary>
        public const string DataDirectoryUnsafe = "data_directory_unsafe";
        /// <summary>A push names no upload ticket, or one that is unknown, used, expired or for the other endpoint.</summary>
        public const string UploadTicketInvalid = "upload_ticket_invalid";
        /// <summary>A push differs from what its ticket was issued for (service, version, fversion, Content-MD5 or size).</summary>
        public const string UploadTicketMismatch = "upload_ticket_mismatch";
        public const string NotFound = "not_found";
        /// <summary>The request's headers or body did not arrive in time (HTTP 408); sending again may succeed.</summary>
        public const string RequestTimeout = "request_timeout";
        /// <summary>The request line is longer than the agent reads (HTTP 414).</summary>
        public const string RequestTargetTooLong = "request_target_too_long";
        /// <summary>The request headers are more or larger than the agent reads (HTTP 431).</summary>
        public const string HeadersTooLarge = "headers_too_large";
        /// <summary>The request used an HTTP version other than 1.x (HTTP 505).</summary>
        public const string HttpVersionNotSupported = "http_version_not_supported";
        public const string InternalError = "internal_error";
    }
}
