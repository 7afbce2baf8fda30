using System;
using System.IO;
using System.Text;
using Microsoft.Data.Sqlite;

namespace ReleaseTools.Engine.Store.Sqlite
{
    /// <summary>
    /// Decides, before anything opens a file for writing, whether it is a ReleaseTools store this release may use.
    /// Everything here reads only (raw header bytes, then a read-only, unpooled connection), so a file that turns out
    /// to be corrupt, foreign or newer is left exactly as it was.
    /// </summary>
    internal static class StoreFileInspector
    {
        private const int HeaderLength = 100;
        private static readonly byte[] SqliteMagic = Encoding.ASCII.GetBytes("SQLite format 3\0");

        /// <summary>Throws a <see cref="StoreException"/> unless the path is missing, empty, a blank SQLite file, or one of our stores at a schema this release knows.</summary>
        public static void EnsureUsable(string path)
        {
            if (Directory.Exists(path))
            {
                throw new StoreException(StoreErrorIds.StoreUnavailable,
                    $"The store path '{path}' is a folder. Give the path of a store file (for example '{Path.Combine(path, "releasetools.db")}').", path);
            }

            var info = new FileInfo(path);
            if (!info.Exists || info.Length == 0)
            {
                return;
            }

            var header = CheckHeader(path, info.Length);
            CheckContents(path, header);
        }

        private static byte[] CheckHeader(string path, long length)
        {
            var header = new byte[HeaderLength];
            int read;
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                read = ReadFully(stream, header);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new StoreException(StoreErrorIds.StoreUnavailable,
                    $"The store '{path}' cannot be read: {ex.Message} Check the file's permissions or choose another store path.", path, ex);
            }

            if (read < HeaderLength || !StartsWithMagic(header))
            {
                throw Corrupt(path, "it is not a SQLite database (a different kind of file, or a store damaged beyond repair)");
            }

            // The header records the database size; a file shorter than that lost its tail (interrupted copy, full disk).
            // The size is only trustworthy while the "version valid for" counter matches the change counter.
            var pageSize = (header[16] << 8) | header[17];
            var effectivePageSize = pageSize == 1 ? 65536 : pageSize;
            var changeCounter = ReadBigEndian(header, 24);
            var pageCount = ReadBigEndian(header, 28);
            var validFor = ReadBigEndian(header, 92);
            if (effectivePageSize >= 512 && pageCount > 0 && validFor == changeCounter && (long)pageCount * effectivePageSize > length)
            {
                throw Corrupt(path, $"it is truncated: its header describes {pageCount} pages of {effectivePageSize} bytes but the file holds only {length} bytes");
            }

            return header;
        }

        private static void CheckContents(string path, byte[] header)
        {
            // A WAL-mode file that was closed cleanly has no -wal file: everything is in the main file, and reading it as
            // immutable keeps SQLite from creating -wal/-shm beside a file that may not be ours. With a -wal file present,
            // its content counts, so it is read normally (the side files exist already).
            var walMode = header[18] == 2 && header[19] == 2;
            var immutable = walMode && !File.Exists(path + "-wal");
            long applicationId;
            long userVersion;
            long schemaObjects;
            long markerTables;
            try
            {
                var builder = new SqliteConnectionStringBuilder
                {
                    DataSource = immutable ? new Uri(path).AbsoluteUri + "?immutable=1" : path,
                    Mode = SqliteOpenMode.ReadOnly,
                    Pooling = false,
                };
                using var connection = new SqliteConnection(builder.ToString());
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText =
                    "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), " +
                    "(SELECT count(*) FROM sqlite_master), (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $marker)";
                command.Parameters.AddWithValue("$marker", StoreMigrations.MarkerTable);
                using var reader = command.ExecuteReader();
                reader.Read();
                applicationId = reader.GetInt64(0);
                userVersion = reader.GetInt64(1);
                schemaObjects = reader.GetInt64(2);
                markerTables = reader.GetInt64(3);
            }
            catch (SqliteException ex) when (IsCorruption(ex))
            {
                throw Corrupt(path, $"SQLite reports: {ex.Message}", ex);
            }
            catch (SqliteException ex) when (DiskFailure(path, ex) is { } failure)
            {
                throw failure;
            }
            catch (SqliteException ex)
            {
                throw new StoreException(StoreErrorIds.StoreUnavailable,
                    $"The store '{path}' cannot be opened: {ex.Message} Check the file's permissions, or whether another program holds it exclusively.", path, ex);
            }

            if (applicationId == StoreMigrations.ApplicationId)
            {
                if (markerTables == 0)
                {
                    throw Corrupt(path, "it carries the ReleaseTools mark but its tables are missing");
                }

                if (userVersion > StoreMigrations.LatestVersion)
                {
                    throw new StoreException(StoreErrorIds.StoreNewerSchema,
                        $"The store '{path}' was written by a newer release of ReleaseTools (schema {userVersion}; this release knows up to {StoreMigrations.LatestVersion}). " +
                        "It was left untouched. Update the ReleaseTools module, or use another store path.", path);
                }

                return;
            }

            if (applicationId == 0 && schemaObjects == 0)
            {
                // A blank SQLite file holds nothing to lose; it becomes a store.
                return;
            }

            var owner = applicationId == 0 ? "" : $" (application id 0x{applicationId:X8})";
            throw new StoreException(StoreErrorIds.StoreForeign,
                $"The file '{path}' is a SQLite database of another application{owner}, not a ReleaseTools store. " +
                "It was left untouched. Choose another store path (parameter -StorePath or the " + StoreLocation.EnvironmentVariable + " environment variable).", path);
        }

        /// <summary>
        /// What the file system did to a SQLite call, in words an operator can act on: a full disk (StoreFull), a
        /// read-only file, folder or mount (StoreReadOnly), another I/O error (StoreUnavailable); null for anything else.
        /// </summary>
        public static StoreException? DiskFailure(string path, SqliteException ex)
        {
            // SQLITE_FULL (13), or an I/O error whose cause was a full disk: the write was rolled back whole, so the store
            // holds what it held before; only the space is missing.
            if (ex.SqliteErrorCode == 13 || ex.SqliteErrorCode == 10 && IsOutOfSpace(path))
            {
                return new StoreException(StoreErrorIds.StoreFull,
                    $"The disk that holds the store '{path}' is full, so SQLite could not write to it (a failed write is undone whole: every earlier record is intact). " +
                    "Free space on that disk (or move the store with -StorePath), then run the command again.",
                    path, ex);
            }

            // SQLITE_READONLY (8), or SQLITE_CANTOPEN (14) where the file or its folder cannot be written (SQLite must create
            // the -wal and -shm files beside a WAL store): a read-only file, folder or mount.
            if (ex.SqliteErrorCode == 8 || ex.SqliteErrorCode == 14 && !IsWritable(path))
            {
                return new StoreException(StoreErrorIds.StoreReadOnly,
                    $"The store '{path}' cannot be written: the file, its folder or its file system is read-only. The store was not changed. " +
                    "Make it writable (it needs its folder writable too, for the -wal and -shm files beside it), then run the command again.",
                    path, ex);
            }

            // Any other SQLITE_IOERR (10): the file system failed the read or write.
            if (ex.SqliteErrorCode == 10)
            {
                return new StoreException(StoreErrorIds.StoreUnavailable,
                    $"The store '{path}' could not be read or written: {ex.Message} Check the disk or file system that holds it, then run the command again.",
                    path, ex);
            }

            return null;
        }

        /// <summary>Whether the store file (when it exists) and its folder can be written; probes with a file that is removed at once.</summary>
        private static bool IsWritable(string path)
        {
            try
            {
                var full = Path.GetFullPath(path);
                if (File.Exists(full))
                {
                    using (new FileStream(full, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
                    {
                    }
                }

                var probe = full + "-probe-" + Guid.NewGuid().ToString("N");
                using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
                {
                }

                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return false;
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException)
            {
                return true;
            }
        }

        /// <summary>
        /// SQLite reports a full disk as SQLITE_FULL when a page write fails, but as a plain I/O error when it cannot grow
        /// the WAL index (-shm) it maps: so a disk I/O error on a volume with (almost) no space left is a full disk.
        /// </summary>
        private static bool IsOutOfSpace(string path)
        {
            try
            {
                var folder = Path.GetDirectoryName(Path.GetFullPath(path));
                if (string.IsNullOrEmpty(folder))
                {
                    return false;
                }

                // DriveInfo takes a drive on Windows and any path on Unix (statvfs on it).
                var drive = new DriveInfo(Path.DirectorySeparatorChar == '\\' ? Path.GetPathRoot(folder)! : folder);
                return drive.AvailableFreeSpace < 1024 * 1024;
            }
            catch (Exception ex) when (ex is ArgumentException || ex is IOException || ex is UnauthorizedAccessException)
            {
                return false;
            }
        }

        /// <summary>SQLITE_CORRUPT (11) and SQLITE_NOTADB (26).</summary>
        public static bool IsCorruption(SqliteException ex) => ex.SqliteErrorCode == 11 || ex.SqliteErrorCode == 26;

        public static StoreException Corrupt(string path, string reason, Exception? inner = null) =>
            new StoreException(StoreErrorIds.StoreCorrupt,
                $"The file '{path}' cannot be used as a ReleaseTools store: {reason}. It was left untouched. " +
                "Restore it from a backup, or choose another store path (parameter -StorePath or the " + StoreLocation.EnvironmentVariable + " environment variable).",
                path, inner);

        private static bool StartsWithMagic(byte[] header)
        {
            for (var i = 0; i < SqliteMagic.Length; i++)
            {
                if (header[i] != SqliteMagic[i])
                {
                    return false;
                }
            }

            return true;
        }

        private static uint ReadBigEndian(byte[] buffer, int offset) =>
            ((uint)buffer[offset] << 24) | ((uint)buffer[offset + 1] << 16) | ((uint)buffer[offset + 2] << 8) | buffer[offset + 3];

        private static int ReadFully(Stream stream, byte[] buffer)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var n = stream.Read(buffer, total, buffer.Length - total);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        }
    }
}
