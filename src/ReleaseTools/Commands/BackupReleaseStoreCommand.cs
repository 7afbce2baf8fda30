using System.Management.Automation;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Writes a consistent backup of the store (every instance, run, target, history row, config snapshot and audit entry,
    /// read in one snapshot while runs may be writing) to a file in the portable format that Restore-ReleaseStore reads
    /// into either kind of store.
    /// </summary>
    [Cmdlet(VerbsData.Backup, "ReleaseStore", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(ReleaseStoreBackup))]
    public sealed class BackupReleaseStoreCommand : ReleaseToolsCmdlet
    {
        /// <summary>The backup file to write. It appears only when complete.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "";

        /// <summary>Replaces an existing file at -Path.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void EndProcessing()
        {
            RefuseUnusablePath(Path, "BackupPathInvalid", "the backup file");
            var path = ResolvePath(Path);
            if (!ShouldProcess(path, $"Back up the store '{Session.StorePath}'"))
            {
                return;
            }

            var manifest = Await(token => Engine.Store.Portable.StoreBackup.BackupAsync(Session.Store, path, Force, token));
            WriteObject(OutputMapper.ToBackup(manifest, path));
        }
    }
}
