using System;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>A package on local disk, ready to stream to agents.</summary>
    public sealed record AcquiredPackage
    {
        /// <summary>URL or path the package came from, as recorded in history.</summary>
        public string Source { get; init; } = "";
        public string FilePath { get; init; } = "";
        /// <summary>Lowercase hex MD5 of the file.</summary>
        public string Md5 { get; init; } = "";
        public long Length { get; init; }
        public bool FromCache { get; init; }

        /// <summary>
        /// True when <see cref="Md5"/> was computed from the very bytes this acquisition wrote to <see cref="FilePath"/>: the
        /// pushes then do not read the file again for its MD5 (the agents still check every push against it). False for a
        /// file found in the cache, which is hashed again as it is signed.
        /// </summary>
        public bool Md5ComputedFromFile { get; init; }

        /// <summary>
        /// The package's own file name, from the last segment of its URL or path (web-1.5.0.tar.gz); the agent unpacks by
        /// it. "package" when the source names no file.
        /// </summary>
        public string FileName
        {
            get
            {
                var source = Source;
                if (Uri.TryCreate(source, UriKind.Absolute, out var uri) && !uri.IsFile)
                {
                    source = Uri.UnescapeDataString(uri.AbsolutePath);
                }

                var name = source.Replace('\\', '/');
                name = name.Substring(name.LastIndexOf('/') + 1);
                return name.Length == 0 ? "package" : name;
            }
        }
    }

    /// <summary>What validation learned about a package without downloading it.</summary>
    public sealed record PackageProbeResult
    {
        public PackageLocation Location { get; init; } = null!;
        /// <summary>Size when the server said (HEAD Content-Length) or the file is local; null otherwise.</summary>
        public long? Length { get; init; }
        /// <summary>False when the server does not answer HEAD (405/501): the download will tell.</summary>
        public bool Checked { get; init; }
    }

    /// <summary>Download progress: bytes so far and the total when known.</summary>
    public delegate void PackageProgressCallback(long bytesReceived, long? totalBytes, bool fromCache);
}
