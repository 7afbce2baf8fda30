namespace ReleaseTools.Engine.Deployment
{
    /// <summary>Config bytes for one (service, environment), with their MD5 digest (the identity inside the fversion).</summary>
    public sealed record RenderedConfig
    {
        public string FileName { get; init; } = "";
        public byte[] Content { get; init; } = System.Array.Empty<byte>();
        /// <summary>Lowercase hex MD5 of Content; the config snapshot is stored under it.</summary>
        public string Digest { get; init; } = "";
        /// <summary>Where the bytes came from, for the user: a rendered template, a ready file, kept from the last release, or none.</summary>
        public string Origin { get; init; } = "";
    }
}
