namespace ReleaseTools.Engine.Floyd
{
    /// <summary>What the agent did with a package push.</summary>
    public sealed record PackagePushResult
    {
        public string Md5 { get; init; } = "";
        public long Bytes { get; init; }
        /// <summary>The agent already held these exact bytes and stored nothing new.</summary>
        public bool AlreadyStored { get; init; }
    }
}
