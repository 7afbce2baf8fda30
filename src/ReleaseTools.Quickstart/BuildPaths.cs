using System.Reflection;

namespace ReleaseTools.Quickstart;

/// <summary>Where the build put the module and the agent, recorded at build time (environment variables override).</summary>
internal static class BuildPaths
{
    public static string ModuleDirectory => Environment.GetEnvironmentVariable("RELEASETOOLS_MODULE_DIR") ?? Metadata("ModuleOutputDir");

    public static string FloydAgentAssembly => Environment.GetEnvironmentVariable("RELEASETOOLS_AGENT_DLL") ?? Metadata("FloydAgentAssemblyPath");

    public static string QuickstartScript => Path.Combine(Metadata("RepoRoot"), "docs", "examples", "quickstart.ps1");

    private static string Metadata(string key) =>
        typeof(BuildPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"Build metadata '{key}' is missing; rebuild ReleaseTools.Quickstart.");
}
