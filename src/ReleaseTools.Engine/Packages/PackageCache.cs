using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>
    /// Downloaded packages on local disk, keyed by source (URL or path) and MD5: &lt;root&gt;/&lt;hash of source&gt;/&lt;md5&gt;.pkg.
    /// Files appear only complete (written under a temporary name, then renamed), so a crash never leaves a
    /// half file under a valid name; a rollback finds the package of an older release by its URL and MD5.
    /// </summary>
    public sealed class PackageCache
    {
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
            Path.Combine(SourceDirectory(location), md5.ToLowerInvariant() + ".pkg");

        /// <summary>The cached file for this source and MD5, or null.</summary>
        public string? TryGet(PackageLocation location, string md5)
        {
            var path = PathFor(location, md5);
            return File.Exists(path) ? path : null;
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
            var temporary = path + "." + Guid.NewGuid().ToString("N") + ".partial";
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
            return Path.Combine(directory, Guid.NewGuid().ToString("N") + ".partial");
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
                return finalPath;
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

        private string ValidatorsPath(PackageLocation location) => Path.Combine(SourceDirectory(location), "validators.json");

        private string SourceDirectory(PackageLocation location)
        {
            using var sha = SHA256.Create();
            var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(location.CacheKey));
            return Path.Combine(RootDirectory, Md5Hex.ToHex(hash).Substring(0, 32));
        }
    }
}
