using System;
using System.IO;
using System.Net.Http.Headers;
using System.Text;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>
    /// Refuses a download that is plainly not a package: a login or error page answered with 200 (text/html), a JSON
    /// or XML error body, or nothing at all. Without this a sign-in page would be cached and activated as the release
    /// on every agent. A checksum proves the bytes by itself, so the check applies only when none was given; the user
    /// can also skip it explicitly (-SkipPackageContentCheck).
    /// </summary>
    internal static class PackageContentCheck
    {
        private const int SniffBytes = 512;

        /// <summary>Media types no release package is served as.</summary>
        public static void CheckContentType(PackageLocation location, MediaTypeHeaderValue? contentType)
        {
            var media = contentType?.MediaType?.Trim().ToLowerInvariant();
            if (media is null)
            {
                return;
            }

            if (media.StartsWith("text/", StringComparison.Ordinal) || media == "application/json" || media == "application/xml" ||
                media == "application/xhtml+xml" || media.EndsWith("+json", StringComparison.Ordinal) || media.EndsWith("+xml", StringComparison.Ordinal))
            {
                throw NotAPackage(location, $"the server answered with content type '{media}', which a package never has");
            }
        }

        /// <summary>The downloaded body: empty, or starting like an HTML page, is not a package.</summary>
        public static void CheckBody(PackageLocation location, string path, long length)
        {
            if (length == 0)
            {
                throw NotAPackage(location, "the server answered with an empty body");
            }

            var head = new byte[(int)Math.Min(SniffBytes, length)];
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                var read = 0;
                while (read < head.Length)
                {
                    var n = file.Read(head, read, head.Length - read);
                    if (n == 0)
                    {
                        break;
                    }

                    read += n;
                }
            }

            var text = Encoding.UTF8.GetString(head).TrimStart('\uFEFF', ' ', '\t', '\r', '\n').ToLowerInvariant();
            if (text.StartsWith("<!doctype html", StringComparison.Ordinal) || text.StartsWith("<html", StringComparison.Ordinal) ||
                text.StartsWith("<?xml", StringComparison.Ordinal) && text.IndexOf("<html", StringComparison.Ordinal) >= 0)
            {
                throw NotAPackage(location, $"the {length}-byte body is an HTML page (a sign-in or error page?)");
            }
        }

        private static DeploymentException NotAPackage(PackageLocation location, string why) =>
            new DeploymentException(EngineErrorIds.PackageNotAPackage, DeploymentErrorKind.InvalidData,
                $"The package URL {location} did not return a package: {why}. Nothing was cached or pushed. Check that the URL needs no sign-in " +
                "and points at the package itself; if this really is the package, pass -Checksum with its MD5 or -SkipPackageContentCheck.",
                location.Original);
    }
}
