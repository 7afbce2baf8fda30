using System.Management.Automation;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Restores a backup written by Backup-ReleaseStore into the store, from either kind of store into either kind: how a
    /// team moves from a SQLite file to a shared PostgreSQL server. The file is verified against its manifest first and
    /// written in one transaction, so a corrupt or truncated backup changes nothing. A store that already holds records is
    /// refused unless -Force, which replaces everything in it.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "ReleaseStore", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(ReleaseStoreBackup))]
    public sealed class RestoreReleaseStoreCommand : ReleaseToolsCmdlet
    {
        /// <summary>The backup file to restore.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "";

        /// <summary>Restores into a store that already holds records, replacing all of them, and skips the confirmation prompt.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void EndProcessing()
        {
            RefuseUnusablePath(Path, "BackupPathInvalid", "the backup file");
            var path = ResolvePath(Path);
            if (!System.IO.File.Exists(path))
            {
                ThrowReportedError(new ErrorRecord(
                    new System.IO.FileNotFoundException($"The backup file '{path}' does not exist. Give the path of a file written by Backup-ReleaseStore.", path),
                    "BackupFileNotFound", ErrorCategory.ObjectNotFound, path));
            }

            if (!ShouldProcessUnlessForced(Force, Session.StorePath, Force ? $"Replace everything in the store with the backup '{path}'" : $"Restore the backup '{path}'"))
            {
                return;
            }

            var manifest = Await(token => Engine.Store.Portable.StoreBackup.RestoreAsync(Session.Store, path, Force, token));
            WriteObject(OutputMapper.ToBackup(manifest, path));
        }
    }
}
