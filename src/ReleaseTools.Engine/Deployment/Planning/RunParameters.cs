using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>
    /// What a later resume needs to repeat a run exactly: every release the run sends (package URL and MD5, config
    /// digest and file name, fversion). Kept as JSON in the deployment record's ParametersJson.
    /// </summary>
    internal sealed class RunParameters
    {
        private static readonly JsonSerializerOptions Json = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };

        public int Format { get; set; } = 1;
        public bool AllowLocalPackage { get; set; }
        public List<ReleaseParameters> Releases { get; set; } = new List<ReleaseParameters>();
        /// <summary>For the record only: how the run was configured (a resume takes its settings from the caller).</summary>
        public int ThrottleLimit { get; set; }
        public string? FailureAction { get; set; }
        public int MaxFailedInstances { get; set; }
        public double? MaxFailedPercent { get; set; }

        public static RunParameters For(RunSettings settings, bool allowLocalPackage, IEnumerable<ReleaseSpec> releases)
        {
            var parameters = new RunParameters
            {
                AllowLocalPackage = allowLocalPackage,
                ThrottleLimit = settings.ThrottleLimit,
                FailureAction = settings.FailurePolicy.Action.ToString(),
                MaxFailedInstances = settings.FailurePolicy.MaxFailedInstances,
                MaxFailedPercent = settings.FailurePolicy.MaxFailedPercent,
            };
            var seen = new HashSet<ReleaseSpec>();
            foreach (var release in releases)
            {
                if (seen.Add(release))
                {
                    parameters.Releases.Add(ReleaseParameters.From(release));
                }
            }

            return parameters;
        }

        public string ToJson() => JsonSerializer.Serialize(this, Json);

        public static RunParameters? TryParse(string? json)
        {
            if (string.IsNullOrWhiteSpace(json))
            {
                return null;
            }

            try
            {
                var parsed = JsonSerializer.Deserialize<RunParameters>(json!, Json);
                return parsed != null && parsed.Format == 1 && parsed.Releases.Count > 0 ? parsed : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }

    internal sealed class ReleaseParameters
    {
        public string Service { get; set; } = "";
        public string Environment { get; set; } = "";
        public string Version { get; set; } = "";
        public string FVersion { get; set; } = "";
        public string? PackageUrl { get; set; }
        public string? PackageMd5 { get; set; }
        public string? ConfigDigest { get; set; }
        public string? ConfigFileName { get; set; }

        public static ReleaseParameters From(ReleaseSpec release) => new ReleaseParameters
        {
            Service = release.Service,
            Environment = release.Environment,
            Version = release.Version,
            FVersion = release.FVersion,
            PackageUrl = release.Package.Source,
            PackageMd5 = release.Package.Md5,
            ConfigDigest = release.Config?.Digest,
            ConfigFileName = release.Config?.FileName,
        };

        public bool Matches(string service, string environment, string? fversion) =>
            string.Equals(Service, service, StringComparison.Ordinal) &&
            string.Equals(Environment, environment, StringComparison.Ordinal) &&
            string.Equals(FVersion, fversion, StringComparison.Ordinal);
    }
}
