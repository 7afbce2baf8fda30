using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace ReleaseTools.Engine.Store.Portable
{
    /// <summary>
    /// Backup, restore and move of a release store. A backup is one consistent snapshot of every record (taken while runs
    /// may be writing), in a format both stores read, so moving a team from a SQLite file to PostgreSQL (or back) is a
    /// backup of one and a restore into the other.
    /// </summary>
    public static class StoreBackup
    {
        /// <summary>
        /// Writes a backup of <paramref name="store"/> to <paramref name="path"/>. The file appears only when complete (it is
        /// written beside it and renamed); an existing file is refused unless <paramref name="overwrite"/>.
        /// </summary>
        public static async Task<BackupManifest> BackupAsync(IReleaseStore store, string path, bool overwrite, CancellationToken cancellationToken)
        {
            var portable = Portable(store);
            var fullPath = Path.GetFullPath(path);
            if (File.Exists(fullPath) && !overwrite)
            {
                throw new StoreException(StoreErrorIds.BackupFileUnavailable,
                    $"The backup file '{fullPath}' already exists. Choose another path, or use -Force to replace it.", fullPath);
            }

            var folder = Path.GetDirectoryName(fullPath);
            if (string.IsNullOrEmpty(folder) || !Directory.Exists(folder))
            {
                throw new StoreException(StoreErrorIds.BackupFileUnavailable, $"The folder of the backup file '{fullPath}' does not exist. Create it first.", fullPath);
            }

            var partial = fullPath + ".partial-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            try
            {
                BackupManifest? manifest = null;
                await Task.Run(() =>
                {
                    manifest = StoreBackupFile.Write(partial, portable, store.Location,
                        row => portable.ExportAsync(row, cancellationToken).GetAwaiter().GetResult());
                }, cancellationToken).ConfigureAwait(false);
                if (File.Exists(fullPath))
                {
                    File.Delete(fullPath);
                }

                File.Move(partial, fullPath);
                return manifest!;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new StoreException(StoreErrorIds.BackupFileUnavailable, $"The backup file '{fullPath}' cannot be written: {ex.Message}", fullPath, ex);
            }
            finally
            {
                if (File.Exists(partial))
                {
                    File.Delete(partial);
                }
            }
        }

        /// <summary>Reads the backup through and checks it against its manifest, changing nothing.</summary>
        public static Task<BackupManifest> VerifyAsync(string path, CancellationToken cancellationToken) =>
            Task.Run(() => StoreBackupFile.Verify(Path.GetFullPath(path)), cancellationToken);

        /// <summary>
        /// Restores a backup into <paramref name="store"/>: every record is written in one transaction while the file is read
        /// and checked against its manifest, and a file that proves truncated, altered or corrupt (which shows at its end, or
        /// at the first bad line) rolls the whole transaction back, so nothing is changed. A store that already holds
        /// records is refused (StoreNotEmpty) unless <paramref name="replace"/>, which replaces everything it holds.
        /// The file is read once: a million history rows restore in seconds.
        /// </summary>
        public static async Task<BackupManifest> RestoreAsync(IReleaseStore store, string path, bool replace, CancellationToken cancellationToken)
        {
            var portable = Portable(store);
            var fullPath = Path.GetFullPath(path);
            if (!File.Exists(fullPath))
            {
                throw new StoreException(StoreErrorIds.BackupFileUnavailable, $"The backup file '{fullPath}' does not exist.", fullPath);
            }

            if (!replace && !await portable.IsEmptyAsync(cancellationToken).ConfigureAwait(false))
            {
                throw NotEmpty(store);
            }

            BackupManifest? manifest = null;
            await Task.Run(() => portable.ImportAsync(StoreBackupFile.Rows(fullPath, verified => manifest = verified), replace, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
            return manifest ?? throw new InvalidOperationException("The backup was restored without its manifest being checked.");
        }

        /// <summary>Counts and digests of what the store holds now, as a backup taken now would record them.</summary>
        public static Task<BackupManifest> SummarizeAsync(IReleaseStore store, CancellationToken cancellationToken)
        {
            var portable = Portable(store);
            return Task.Run(() => StoreBackupFile.Summarize(portable, store.Location, row => portable.ExportAsync(row, cancellationToken).GetAwaiter().GetResult()),
                cancellationToken);
        }

        internal static StoreException NotEmpty(IReleaseStore store) =>
            new StoreException(StoreErrorIds.StoreNotEmpty,
                $"The store '{store.Location}' already holds records, so the backup was not restored into it. Restore into a new store, " +
                "or use -Force to replace everything it holds with the backup.", store.Location);

        private static IPortableStore Portable(IReleaseStore store) =>
            store as IPortableStore ?? throw new NotSupportedException($"The store '{store.Location}' cannot be backed up or restored.");
    }
}
