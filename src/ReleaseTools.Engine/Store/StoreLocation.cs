using System;
using System.IO;

namespace ReleaseTools.Engine.Store
{
    /// <summary>Where the store lives when the caller does not say: explicit path, then RELEASETOOLS_STORE, then a per-user default.</summary>
    public static class StoreLocation
    {
        public const string EnvironmentVariable = "RELEASETOOLS_STORE";

        public static string Resolve(string? explicitPath)
        {
            if (!string.IsNullOrWhiteSpace(explicitPath))
            {
                return Path.GetFullPath(explicitPath);
            }

            var fromEnvironment = System.Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                return Path.GetFullPath(fromEnvironment);
            }

            return DefaultPath();
        }

        /// <summary>%LOCALAPPDATA%\ReleaseTools\releasetools.db on Windows, $XDG_DATA_HOME/ReleaseTools (or ~/.local/share/ReleaseTools) elsewhere.</summary>
        public static string DefaultPath()
        {
            var root = System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData, System.Environment.SpecialFolderOption.DoNotVerify);
            if (string.IsNullOrEmpty(root))
            {
                root = Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".local", "share");
            }

            return Path.Combine(root, "ReleaseTools", "releasetools.db");
        }
    }
}
