using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Deploys one version of a package (and its config) to every instance it receives: collects the whole
    /// pipeline input first, so the package is downloaded once, then writes one DeploymentResult per instance as
    /// each finishes.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "Deployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High,
        DefaultParameterSetName = BatchSizeSet)]
    [OutputType(typeof(DeploymentResult))]
    public sealed class InvokeDeploymentCommand : TargetedDeploymentCommandBase
    {
        [Parameter(Mandatory = true)]
        [ArgumentCompleter(typeof(VersionCompleter))]
        [ValidateNotNullOrEmpty]
        public string Version { get; set; } = "";

        /// <summary>http(s) URL of the package, or the path of a local package file.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string PackageUrl { get; set; } = "";

        /// <summary>Expected MD5 of the package (32 hex digits as md5sum prints, or base64), verified before anything is pushed.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Checksum { get; set; }

        /// <summary>Config template: {{Name}} placeholders are filled from -ConfigValues and the built-ins Service, Environment and Version.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConfigPath { get; set; }

        [Parameter]
        public Hashtable? ConfigValues { get; set; }

        /// <summary>
        /// Sends an empty config. Without -ConfigPath and without this switch, each service and environment keeps the config
        /// it was last deployed with.
        /// </summary>
        [Parameter]
        public SwitchParameter NoConfig { get; set; }

        /// <summary>Deploys even when the package's MD5 differs from the one recorded for the same service and version.</summary>
        [Parameter]
        public SwitchParameter AllowChecksumChange { get; set; }

        /// <summary>
        /// Accepts a downloaded package that does not look like one (an HTML page, an empty body, a text content type). Without
        /// it such a download is refused (PackageNotAPackage) unless -Checksum proves the bytes.
        /// </summary>
        [Parameter]
        public SwitchParameter SkipPackageContentCheck { get; set; }

        /// <summary>Pushes the release even to instances whose agent already runs it.</summary>
        [Parameter]
        public SwitchParameter Redeploy { get; set; }

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            // Checked before any input is collected, with the engine's own rule and message (ValidatePattern would show a regex).
            try
            {
                Engine.Packages.PackageAcquirer.NormalizeChecksum(Checksum);
            }
            catch (DeploymentException exception)
            {
                ThrowTerminatingError(ErrorMapping.FromDeploymentException(exception));
            }
        }

        private protected override string Verb => "deploy to";

        private protected override void ReportNothingPiped(string message) => WriteWarning(message);

        private protected override string Noun => "Deployment";

        private protected override void Run(IReadOnlyList<string> instanceIds, BatchLayout batches)
        {
            var request = WithPackage(new DeploymentRequest
            {
                InstanceIds = instanceIds,
                Version = Version,
                Checksum = Checksum,
                Config = BuildConfig(),
                AllowChecksumChange = AllowChecksumChange,
                SkipPackageContentCheck = SkipPackageContentCheck,
                Settings = BuildSettings(batches, Redeploy),
            });

            if (!ConfirmRun(DescribeTargets(instanceIds), $"Deploy version {Version}", token => Session.Engine.PlanDeploymentAsync(request, token), scope => $"Deploy version {Version} to {scope}"))
            {
                return;
            }

            RunWithOutput($"Deploying version {Version}", (observer, token) => Session.Engine.DeployAsync(request, observer, token));
        }

        private DeploymentRequest WithPackage(DeploymentRequest request)
        {
            var (url, local) = ResolvePackageLocation(PackageUrl);
            return request with { PackageUrl = url, AllowLocalPackage = local };
        }

        private ConfigSource BuildConfig()
        {
            if (NoConfig && (ConfigPath is not null || ConfigValues is not null))
            {
                ThrowReportedError(new ErrorRecord(
                    new ArgumentException("-NoConfig sends an empty config; it cannot be combined with -ConfigPath or -ConfigValues."),
                    "ConfigSourceConflict",
                    ErrorCategory.InvalidArgument,
                    null));
            }

            if (NoConfig)
            {
                return new ConfigSource { Empty = true };
            }

            if (ConfigPath is null)
            {
                if (ConfigValues is not null)
                {
                    ThrowReportedError(new ErrorRecord(
                        new ArgumentException("-ConfigValues fills the placeholders of a config template; pass the template with -ConfigPath."),
                        "ConfigTemplateMissing",
                        ErrorCategory.InvalidArgument,
                        null));
                }

                return new ConfigSource();
            }

            var (path, values) = ReadConfigTemplate(ConfigPath, ConfigValues);
            return new ConfigSource { TemplatePath = path, Values = values };
        }
    }
}
