using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>
    /// Downloaded packages on local disk, keyed by source (URL or path) and MD5: &lt;root&gt;/&lt;hash of source&gt;/&lt;md5&gt;.pkg.
    /// Files appear only complete (written under a temporary name, then renamed), so a crash never leaves a
    /// half file under a valid name; a rollback finds the package of an older release by its URL and MD5.
    /// The cache does not grow without end: a package unused for <see cref="UnusedLifetime"/> is removed (its last
    /// write time is its last use), and so are temporary files a killed download left, at most once a day.
    /// </summary>
    public sealed class PackageCache
    {
        /// <summary>
        /// How long a cached package is kept without being used. A release older than that which needs its package again
        /// (a rollback to an instance that no longer holds it) fetches it from its URL or path once more.
        /// </summary>
        public static readonly TimeSpan UnusedLifetime = TimeSpan.FromDays(30);

        /// <summary>How often the cache is trimmed, and how old a temporary file must be to count as left over.</summary>
        public static readonly TimeSpan TrimInterval = TimeSpan.FromDays(1);

        /// <summary>A use refreshes a package's time only when it is older than this, so a cache hit is not a write every time.</summary>
        private static readonly TimeSpan UseResolution = TimeSpan.FromHours(1);

        private const string PackageExtension = ".pkg";
        private const string TemporaryExtension = ".partial";
        private const string TrimMarkerName = "trimmed";

        public PackageCache(string rootDirectory)
        {
            RootDirectory = string.IsNullOrWhiteSpace(rootDirectory) ? DefaultDirectory() : Path.GetFullPath(rootDirectory);
        }

        public string RootDirectory { get; }

        /// <summary>%LOCALAPPDATA%\ReleaseTools\packages on Windows, ~/.local/share/ReleaseTools/packages elsewhere.</summary>
        public static string DefaultDirectory()
        {
            var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            if (string.IsNullOrEmpty(root))
            {
                root = Path.Combine(Path.GetTempPath(), "ReleaseTools");
            }

            return Path.Combine(root, "ReleaseTools", "packages");
        }

        public string PathFor(PackageLocation location, string md5) =>
            Path.Combine(SourceDirectory(location), md5.ToLowerInvariant() + PackageExtension);

        /// <summary>The cached file for this source and MD5, marked used, or null.</summary>
        public string? TryGet(PackageLocation location, string md5)
        {
            var path = PathFor(location, md5);
            return File.Exists(path) ? MarkUsed(path) : null;
        }

        /// <summary>Records that a run uses the cached file now, so trimming keeps it; returns the path.</summary>
        public string MarkUsed(string path) => MarkUsed(path, DateTime.UtcNow);

        internal static string MarkUsed(string path, DateTime nowUtc)
        {
            try
            {
                if (nowUtc - File.GetLastWriteTimeUtc(path) > UseResolution)
                {
                    File.SetLastWriteTimeUtc(path, nowUtc);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // A time that cannot be set only lets the package be trimmed sooner; it is fetched again then.
            }

            return path;
        }

        /// <summary>
        /// Trims the cache when it was not trimmed for <see cref="TrimInterval"/> (by any process: the marker file's time
        /// says when). Never fails: a file that cannot be removed now is tried at the next trim.
        /// </summary>
        public int TrimIfDue() => TrimIfDue(DateTime.UtcNow);

        internal int TrimIfDue(DateTime nowUtc)
        {
            var marker = Path.Combine(RootDirectory, TrimMarkerName);
            try
            {
                if (File.Exists(marker) && nowUtc - File.GetLastWriteTimeUtc(marker) < TrimInterval)
                {
                    return 0;
                }

                // Marked first, so processes starting together do not all walk the cache.
                Directory.CreateDirectory(RootDirectory);
                File.WriteAllText(marker, nowUtc.ToString("o", System.Globalization.CultureInfo.InvariantCulture));
                File.SetLastWriteTimeUtc(marker, nowUtc);
                return Trim(nowUtc);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return 0;
            }
        }

        /// <summary>
        /// Removes packages unused for <see cref="UnusedLifetime"/>, temporary files older than <see cref="TrimInterval"/>,
        /// the download validators of a source whose package is gone, and source folders empty for a day. Returns how many
        /// packages were removed. A run that takes up a package just as it is removed finds it missing at its next push
        /// and fetches it again from its source, as it does for a damaged copy.
        /// </summary>
        internal int Trim(DateTime nowUtc)
        {
            var removed = 0;
            if (!Directory.Exists(RootDirectory))
            {
                return 0;
            }

            foreach (var source in new DirectoryInfo(RootDirectory).EnumerateDirectories())
            {
                try
                {
                    foreach (var file in source.EnumerateFiles())
                    {
                        var age = nowUtc - file.LastWriteTimeUtc;
                        if (file.Name.EndsWith(PackageExtension, StringComparison.Ordinal) && age > UnusedLifetime)
                        {
                            TryDelete(file.FullName);
                            removed += File.Exists(file.FullName) ? 0 : 1;
                        }
                        else if (file.Name.EndsWith(TemporaryExtension, StringComparison.Ordinal) && age > TrimInterval)
                        {
                            TryDelete(file.FullName);
                        }
                    }

                    if (!source.EnumerateFiles("*" + PackageExtension).Any())
                    {
                        TryDelete(Path.Combine(source.FullName, ValidatorsFileName));
                    }

                    // An empty folder goes only once it has stayed empty a day: a run may have just created it for a download.
                    source.Refresh();
                    if (nowUtc - source.LastWriteTimeUtc > TrimInterval && !source.EnumerateFileSystemInfos().Any())
                    {
                        source.Delete();
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    // Another run writing into this source's folder, or a folder not ours to clean: left for the next trim.
                }
            }

            return removed;
        }

        /// <summary>The validators of the last download of this source, when they describe a file still in the cache; else null.</summary>
        public PackageValidators? TryGetValidators(PackageLocation location)
        {
            var path = ValidatorsPath(location);
            try
            {
                if (!File.Exists(path))
                {
                    return null;
                }

                var validators = JsonSerializer.Deserialize<PackageValidators>(File.ReadAllText(path));
                if (validators == null || Md5Hex.Normalize(validators.Md5) == null || !validators.CanRevalidate)
                {
                    return null;
                }

                var cached = TryGet(location, validators.Md5);
                return cached != null && new FileInfo(cached).Length == validators.Length ? validators : null;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is JsonException)
            {
                // Unreadable validators only cost a full download.
                return null;
            }
        }

        /// <summary>Records (or, with nothing to revalidate by, forgets) the validators of the download just committed.</summary>
        public void SaveValidators(PackageLocation location, PackageValidators validators)
        {
            var path = ValidatorsPath(location);
            if (!validators.CanRevalidate)
            {
                TryDelete(path);
                return;
            }

            // Written aside and renamed over, so a reader never sees half a file.
            var temporary = path + "." + Guid.NewGuid().ToString("N") + TemporaryExtension;
            try
            {
                File.WriteAllText(temporary, JsonSerializer.Serialize(validators));
                if (File.Exists(path))
                {
                    File.Replace(temporary, path, null);
                }
                else
                {
                    File.Move(temporary, path);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // The package itself is cached; without validators the next run downloads it in full, nothing worse.
                TryDelete(temporary);
            }
        }

        /// <summary>A new temporary file in the source's folder (same volume, so the final rename is atomic).</summary>
        public string NewTemporaryPath(PackageLocation location)
        {
            var directory = SourceDirectory(location);
            Directory.CreateDirectory(directory);
            return Path.Combine(directory, Guid.NewGuid().ToString("N") + TemporaryExtension);
        }

        /// <summary>Moves a complete temporary file under its final name; if another run got there first, keeps theirs.</summary>
        public string Commit(string temporaryPath, PackageLocation location, string md5) => Commit(temporaryPath, location, md5, out _);

        /// <summary>As <see cref="Commit(string, PackageLocation, string)"/>; <paramref name="moved"/> says whether the file under the final name is the temporary one.</summary>
        public string Commit(string temporaryPath, PackageLocation location, string md5, out bool moved)
        {
            moved = false;
            var finalPath = PathFor(location, md5);
            if (File.Exists(finalPath))
            {
                TryDelete(temporaryPath);
                return MarkUsed(finalPath);
            }

            try
            {
                File.Move(temporaryPath, finalPath);
                moved = true;
            }
            catch (IOException) when (File.Exists(finalPath))
            {
                // A concurrent run committed the same bytes between the check and the move.
                TryDelete(temporaryPath);
                MarkUsed(finalPath);
            }

            return finalPath;
        }

        public static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        private const string ValidatorsFileName = "validators.json";

        private string ValidatorsPath(PackageLocation location) => Path.Combine(SourceDirectory(location), ValidatorsFileName);

        private string SourceDirectory(PackageLocation location)
        {
            using var sha = SHA256.Create();
            var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(location.CacheKey));
            return Path.Combine(RootDirectory, Md5Hex.ToHex(hash).Substring(0, 32));
        }
    }
}
