namespace ReleaseTools.Agent.Security;

/// <summary>How much a request may make the agent read, buffer or write before it is known to be authorized (section 2.5).</summary>
public static class UploadLimits
{
    /// <summary>
    /// What a push body may carry besides its file: the boundary lines, the part headers and the three fields (each at
    /// most 1024 bytes). The ReleaseTools client needs well under 1 KiB of it.
    /// </summary>
    public const long FramingAllowance = 16 * 1024;
}
