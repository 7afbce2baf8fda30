using System;
using System.Text.RegularExpressions;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>
    /// What a version may be: what Floyd agents accept as a path segment (docs/floyd-protocol.md section 4). Runs check
    /// it before any request; read commands check a -Version filter with it, since no recorded version breaks it.
    /// </summary>
    public static class VersionRules
    {
        private static readonly Regex VersionPattern = new Regex("^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}\\z", RegexOptions.CultureInvariant);

        /// <summary>Why <paramref name="version"/> is not a version (the <paramref name="what"/> names it in the message), or null when it is one.</summary>
        public static string? Problem(string? version, string what)
        {
            if (string.IsNullOrWhiteSpace(version))
            {
                return $"A {what} is required.";
            }

            if (!VersionPattern.IsMatch(version) || version!.IndexOf("..", StringComparison.Ordinal) >= 0 || !Floyd.PortableNames.IsPortable(version))
            {
                return $"The {what} '{Store.RegistrationRules.Printable(version)}' is not a version Floyd agents accept: use 1 to 100 letters, digits, " +
                    "'.', '_', '+' or '-', starting with a letter or digit, without spaces, slashes or '..', " + Floyd.PortableNames.Rule +
                    " (for example 1.5.0 or 2.0.0-rc.1+build.7).";
            }

            return null;
        }
    }
}
