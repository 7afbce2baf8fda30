using System.Collections;
using System.IO;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Adds a service to a release before it is tagged (or replaces the release's entry for that service): its version,
    /// package and config template. An approved release goes back to review, since its approval was of other content.
    /// </summary>
    [Cmdlet(VerbsCommon.Add, "ReleaseItem", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class AddReleaseItemCommand : ReleaseCommandBase
    {
        [Parameter(Mandatory = true)]
        [ArgumentCompleter(typeof(ServiceNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string Service { get; set; } = "";

        [Parameter(Mandatory = true)]
        [ArgumentCompleter(typeof(VersionCompleter))]
        [ValidateNotNullOrEmpty]
        public string Version { get; set; } = "";

        /// <summary>http(s) URL of the package, or the path of a local package file.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string PackageUrl { get; set; } = "";

        /// <summary>MD5 of the package; computed from the package when the release is tagged if not given.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Checksum { get; set; }

        /// <summary>Config template ({{Name}} placeholders), kept in the store with the release and rendered per environment at tagging.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConfigPath { get; set; }

        [Parameter]
        public Hashtable? ConfigValues { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Comment { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            var entry = BuildEntry();
            foreach (var id in ReleaseId)
            {
                if (!ShouldProcess(id, $"Add {Service} {Version} to the release"))
                {
                    continue;
                }

                if (!TryLifecycle(token => Session.Lifecycle.EditAsync(new ReleaseEdit { ReleaseId = id, Actor = Actor, Comment = Comment, Upserts = new[] { entry } }, token),
                    out var result))
                {
                    continue;
                }

                if (result.Change.Transition is not null)
                {
                    WriteWarning($"Release {id} was approved; its content changed, so it is back in review (revision {result.Change.Release?.Revision}) and needs approval again.");
                }

                WarnUndelivered(result);
                if (PassThru)
                {
                    WriteRelease(id);
                }
            }
        }

        private ReleaseEntry BuildEntry()
        {
            var (url, local) = ResolvePackageLocation(PackageUrl);
            if (ConfigPath is null)
            {
                if (ConfigValues is not null)
                {
                    ThrowReportedError(new ErrorRecord(
                        new System.ArgumentException("-ConfigValues fills the placeholders of a config template; pass the template with -ConfigPath."),
                        "ConfigTemplateMissing",
                        ErrorCategory.InvalidArgument,
                        null));
                }

                return new ReleaseEntry { Service = Service, Version = Version, PackageUrl = url, AllowLocalPackage = local, Checksum = Checksum };
            }

            var (path, values) = ReadConfigTemplate(ConfigPath, ConfigValues);
            return new ReleaseEntry
            {
                Service = Service,
                Version = Version,
                PackageUrl = url,
                AllowLocalPackage = local,
                Checksum = Checksum,
                ConfigKind = ReleaseConfigKind.Template,
                // Kept as bytes in the store: editing the file later does not change what was reviewed.
                ConfigContent = File.ReadAllBytes(path),
                ConfigFileName = Engine.Deployment.ConfigSource.FileNameOf(path),
                ConfigValues = values,
            };
        }
    }
}
