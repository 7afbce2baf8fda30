using System;
using System.Collections.Generic;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>What happens when a batch pushes the run past its failure threshold.</summary>
    public enum FailureAction
    {
        /// <summary>Later batches are recorded Skipped.</summary>
        Stop,
        /// <summary>The breaching batch's instances go back to what they ran before, then the run stops.</summary>
        Rollback,
        /// <summary>Later batches run anyway.</summary>
        Continue,
    }

    /// <summary>Failure threshold counted over the whole run. Default: no failure tolerated, stop.</summary>
    public sealed record FailurePolicy
    {
        public int MaxFailedInstances { get; init; }
        /// <summary>Percent of all targets (0-100); null means only the count applies.</summary>
        public double? MaxFailedPercent { get; init; }
        /// <summary>Whether unreachable instances count against the threshold (they are always reported apart).</summary>
        public bool CountUnreachable { get; init; } = true;
        public FailureAction Action { get; init; } = FailureAction.Stop;
    }

    /// <summary>Retries of transient failures (connection errors, 5xx, timeouts) with exponential backoff.</summary>
    public sealed record RetryPolicy
    {
        /// <summary>Total tries including the first.</summary>
        public int MaxAttempts { get; init; } = 3;
        public TimeSpan InitialDelay { get; init; } = TimeSpan.FromSeconds(1);
        public double BackoffFactor { get; init; } = 2.0;
    }

    /// <summary>How instances are split into batches: a size, explicit lists of instance ids, or (neither) one batch.</summary>
    public sealed record BatchLayout
    {
        public int? BatchSize { get; init; }
        public IReadOnlyList<IReadOnlyList<string>>? ExplicitBatches { get; init; }
    }

    /// <summary>
    /// Where the config comes from. A template has {{Name}} placeholders filled from Values plus the built-ins
    /// Service, Environment and Version; a ready file is sent as it is. With neither, each service and environment keeps
    /// the config it was last deployed with (its bytes, from the store), or gets an empty config when it never had one;
    /// Empty sends an empty config on purpose.
    /// </summary>
    public sealed record ConfigSource
    {
        /// <summary>Send an empty config even where a config was deployed before.</summary>
        public bool Empty { get; init; }
        public string? TemplatePath { get; init; }
        public string? ReadyFilePath { get; init; }
        /// <summary>
        /// Ready config bytes held in memory instead of a file (a release's config frozen at tagging), sent byte for byte
        /// under <see cref="FileName"/>; <see cref="ContentOrigin"/> says where they came from.
        /// </summary>
        public byte[]? ReadyContent { get; init; }
        /// <summary>A template held in memory (a release entry's), rendered like a template file; <see cref="FileName"/> names the result.</summary>
        public byte[]? TemplateContent { get; init; }
        public string? ContentOrigin { get; init; }

        /// <summary>The name a config file or template has on the agent: its file name without a .template, .tmpl or .tpl suffix.</summary>
        public static string FileNameOf(string path) => ConfigRenderer.FileName(path);
        public IReadOnlyDictionary<string, string> Values { get; init; } = new Dictionary<string, string>();
        /// <summary>Name the config has on the agent; defaults to the source file's name.</summary>
        public string? FileName { get; init; }
    }

    /// <summary>Settings shared by every run that talks to agents.</summary>
    public sealed record RunSettings
    {
        public BatchLayout Batches { get; init; } = new BatchLayout();
        public int ThrottleLimit { get; init; } = 5;
        public FailurePolicy FailurePolicy { get; init; } = new FailurePolicy();
        public RetryPolicy RetryPolicy { get; init; } = new RetryPolicy();
        public string PrivateKeyPath { get; init; } = "";
        public FloydClientOptions Floyd { get; init; } = new FloydClientOptions();
        /// <summary>Redeploy even where the agent already runs the target release.</summary>
        public bool Force { get; init; }
        /// <summary>Wait for instances another run holds instead of failing at once; null fails at once.</summary>
        public TimeSpan? LeaseWait { get; init; }
        /// <summary>Who ran it and from where, for the record (defaults: current user, machine name).</summary>
        public string? InitiatedBy { get; init; }
        public string? InitiatedFrom { get; init; }
    }

    public sealed record DeploymentRequest
    {
        public IReadOnlyList<string> InstanceIds { get; init; } = Array.Empty<string>();
        public string Version { get; init; } = "";
        /// <summary>http(s) URL, or a local file path when AllowLocalPackage is set.</summary>
        public string PackageUrl { get; init; } = "";
        public bool AllowLocalPackage { get; init; }
        /// <summary>Expected MD5 (hex) of the package, checked before anything is pushed.</summary>
        public string? Checksum { get; init; }
        public ConfigSource Config { get; init; } = new ConfigSource();
        /// <summary>
        /// Deploy even when the package's MD5 differs from the one the store recorded for the same service and version
        /// (different bytes under a released version); refused otherwise.
        /// </summary>
        public bool AllowChecksumChange { get; init; }
        /// <summary>Accept a download without -Checksum even if it does not look like a package (HTML, empty, a text content type).</summary>
        public bool SkipPackageContentCheck { get; init; }
        public RunSettings Settings { get; init; } = new RunSettings();
    }

    public sealed record RollbackRequest
    {
        public IReadOnlyList<string> InstanceIds { get; init; } = Array.Empty<string>();
        /// <summary>Explicit target version for every instance; null sends each to the release before its current one.</summary>
        public string? Version { get; init; }
        /// <summary>
        /// Instance id → the deployment whose move of that instance to undo (what a piped DeploymentResult names): the
        /// instance returns to what it ran before that deployment, and is left alone when that deployment never moved it.
        /// Ignored when Version is set.
        /// </summary>
        public IReadOnlyDictionary<string, string>? Undo { get; init; }
        public RunSettings Settings { get; init; } = new RunSettings();
    }

    public sealed record ResumeRequest
    {
        public string DeploymentId { get; init; } = "";
        public RunSettings Settings { get; init; } = new RunSettings();
    }
}
