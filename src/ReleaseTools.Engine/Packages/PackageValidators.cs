namespace ReleaseTools.Engine.Packages
{
    /// <summary>
    /// What the server said identifies the bytes it sent for a URL (its ETag and Last-Modified), kept with the MD5 of the
    /// cached copy, so a later download of the same URL can ask "only if changed" (If-None-Match / If-Modified-Since)
    /// and use the cached copy when the server answers 304 Not Modified. For a local file, <see cref="LastModified"/> is the
    /// file's last-write time (UTC ticks) when it was copied, so an unchanged file is not copied again.
    /// </summary>
    public sealed record PackageValidators
    {
        /// <summary>Lowercase hex MD5 of the cached file these validators describe.</summary>
        public string Md5 { get; init; } = "";
        /// <summary>The ETag header exactly as the server sent it (quotes and W/ prefix included), or null.</summary>
        public string? ETag { get; init; }
        /// <summary>The Last-Modified header exactly as the server sent it, or null.</summary>
        public string? LastModified { get; init; }
        public long Length { get; init; }

        public bool CanRevalidate => !string.IsNullOrEmpty(ETag) || !string.IsNullOrEmpty(LastModified);
    }
}
