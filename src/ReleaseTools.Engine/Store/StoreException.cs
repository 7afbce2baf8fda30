using System;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// The store could not be used: the file is not a ReleaseTools store, was written by a newer release, is corrupt,
    /// or SQLite itself could not load. ErrorId is one of <see cref="StoreErrorIds"/>; Path names the store file.
    /// </summary>
    public sealed class StoreException : Exception
    {
        public StoreException(string errorId, string message, string? path = null, Exception? innerException = null)
            : base(message, innerException)
        {
            ErrorId = errorId;
            Path = path;
        }

        public string ErrorId { get; }

        /// <summary>The store file the error is about, when there is one.</summary>
        public string? Path { get; }
    }

    /// <summary>Stable error ids for <see cref="StoreException"/>, in the module's Noun+Condition style.</summary>
    public static class StoreErrorIds
    {
        /// <summary>The file is not a SQLite database, or its pages are damaged.</summary>
        public const string StoreCorrupt = nameof(StoreCorrupt);
        /// <summary>A SQLite database that belongs to some other application.</summary>
        public const string StoreForeign = nameof(StoreForeign);
        /// <summary>Written by a newer ReleaseTools whose schema this release does not know.</summary>
        public const string StoreNewerSchema = nameof(StoreNewerSchema);
        /// <summary>The path cannot be opened or created (permissions, a folder in the way, locked too long).</summary>
        public const string StoreUnavailable = nameof(StoreUnavailable);
        /// <summary>The disk that holds the store is full; the failed write was undone and nothing earlier was lost.</summary>
        public const string StoreFull = nameof(StoreFull);
        /// <summary>The store's file, folder or file system is read-only; nothing was changed.</summary>
        public const string StoreReadOnly = nameof(StoreReadOnly);
        /// <summary>The native SQLite library could not be loaded.</summary>
        public const string SqliteNativeLoadFailed = nameof(SqliteNativeLoadFailed);
        /// <summary>A PostgreSQL store address that is neither a postgresql:// URL nor a connection string.</summary>
        public const string StoreAddressInvalid = nameof(StoreAddressInvalid);
        /// <summary>The PostgreSQL server refused the login (wrong user or password, no such database, not allowed by pg_hba).</summary>
        public const string StoreAccessDenied = nameof(StoreAccessDenied);
        /// <summary>A restore into a store that already holds records, without -Force.</summary>
        public const string StoreNotEmpty = nameof(StoreNotEmpty);
        /// <summary>A backup file that is truncated, altered or not a ReleaseTools backup; nothing was restored.</summary>
        public const string BackupCorrupt = nameof(BackupCorrupt);
        /// <summary>A backup written by a newer release (a backup format this release does not know).</summary>
        public const string BackupNewerFormat = nameof(BackupNewerFormat);
        /// <summary>The backup file cannot be written (exists without -Force, folder missing or not writable).</summary>
        public const string BackupFileUnavailable = nameof(BackupFileUnavailable);
        public const string InstanceNotFound = nameof(InstanceNotFound);
        public const string DeploymentNotFound = nameof(DeploymentNotFound);
        public const string DeploymentTargetNotFound = nameof(DeploymentTargetNotFound);
        /// <summary>A resume of a run that another resume already took over.</summary>
        public const string DeploymentAlreadyResumed = nameof(DeploymentAlreadyResumed);
        /// <summary>A webhook of that name is already registered (replace it with -Force).</summary>
        public const string WebhookExists = nameof(WebhookExists);
        public const string WebhookNotFound = nameof(WebhookNotFound);
    }
}
