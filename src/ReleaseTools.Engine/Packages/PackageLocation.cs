using System;
using System.IO;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>
    /// Where a package comes from: an http(s) URL, or a local file when the caller allowed it explicitly.
    /// Anything else (ftp://, file:// without permission, garbage) is refused before any network traffic.
    /// </summary>
    public sealed class PackageLocation
    {
        private PackageLocation(string original, Uri? url, string? localPath)
        {
            Original = original;
            Url = url;
            LocalPath = localPath;
        }

        /// <summary>What the caller wrote; this is what the store records, so a later rollback finds it again.</summary>
        public string Original { get; }
        public Uri? Url { get; }
        public string? LocalPath { get; }
        public bool IsLocal => LocalPath != null;

        /// <summary>Normalised identity used as the cache key (absolute URL or full path).</summary>
        public string CacheKey => Url?.AbsoluteUri ?? LocalPath!;

        public override string ToString() => Original;

        /// <summary>The longest package URL or path accepted (common server limits on a request line are 8 KB).</summary>
        public const int MaxUrlLength = 8192;

        public static PackageLocation Parse(string? value, bool allowLocal)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new DeploymentException(EngineErrorIds.PackageUrlMissing, DeploymentErrorKind.InvalidArgument,
                    "No package URL was given. Pass an http:// or https:// URL of the package to deploy.", value);
            }

            var text = value!.Trim();
            if (text.Length > MaxUrlLength)
            {
                // Servers and proxies refuse request lines this long (414); say so before any request is made.
                throw new DeploymentException(EngineErrorIds.PackageUrlInvalid, DeploymentErrorKind.InvalidArgument,
                    $"The package URL is {text.Length} characters long; a URL longer than {MaxUrlLength} characters is refused by most servers. Check the value.", value);
            }

            // Only text with an explicit scheme separator is a URL: on Unix "/srv/pkg.zip" also parses as a file URI.
            if (text.IndexOf("://", StringComparison.Ordinal) > 0)
            {
                if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
                {
                    throw new DeploymentException(EngineErrorIds.PackageUrlInvalid, DeploymentErrorKind.InvalidArgument,
                        $"The package URL '{text}' is not a valid URL.", text);
                }

                if (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
                {
                    return new PackageLocation(text, uri, null);
                }

                if (uri.Scheme == Uri.UriSchemeFile)
                {
                    return Local(text, uri.LocalPath, allowLocal);
                }

                throw new DeploymentException(EngineErrorIds.PackageUrlUnsupportedScheme, DeploymentErrorKind.InvalidArgument,
                    $"The package URL '{text}' uses the unsupported scheme '{uri.Scheme}'. Use an http:// or https:// URL" +
                    (allowLocal ? " or a local file path." : "."), text);
            }

            // "javascript:x", "mailto:x": a scheme without "//" is still no file path (a one-letter scheme is a Windows drive).
            if (Uri.TryCreate(text, UriKind.Absolute, out var other) && !other.IsFile && other.Scheme.Length > 1)
            {
                throw new DeploymentException(EngineErrorIds.PackageUrlUnsupportedScheme, DeploymentErrorKind.InvalidArgument,
                    $"The package URL '{text}' uses the unsupported scheme '{other.Scheme}'. Use an http:// or https:// URL" +
                    (allowLocal ? " or a local file path." : "."), text);
            }

            return Local(text, text, allowLocal);
        }

        private static PackageLocation Local(string original, string path, bool allowLocal)
        {
            if (!allowLocal)
            {
                throw new DeploymentException(EngineErrorIds.PackageLocalPathNotAllowed, DeploymentErrorKind.InvalidArgument,
                    $"'{original}' is not an http:// or https:// URL. To deploy a local file, allow local packages explicitly.", original);
            }

            string fullPath;
            try
            {
                fullPath = Path.GetFullPath(path);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is PathTooLongException)
            {
                throw new DeploymentException(EngineErrorIds.PackageUrlInvalid, DeploymentErrorKind.InvalidArgument,
                    $"'{original}' is not a valid file path: {ex.Message}", original, ex);
            }

            return new PackageLocation(original, null, fullPath);
        }
    }
}
