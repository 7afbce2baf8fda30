using System;

namespace ReleaseTools.Hosting
{
    /// <summary>Where the signing key comes from when -PrivateKeyPath is not given.</summary>
    internal static class PrivateKeyLocation
    {
        public const string EnvironmentVariable = "RELEASETOOLS_PRIVATE_KEY";

        public static string? FromEnvironment()
        {
            var value = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return string.IsNullOrWhiteSpace(value) ? null : value;
        }
    }
}
