using System.Reflection;

namespace ReleaseTools.Testing;

/// <summary>Paths recorded at build time: the Floyd agent assembly, the assembled module folder, the repository root.</summary>
public static class TestPaths
{
    public static string FloydAgentAssembly => Environment.GetEnvironmentVariable("RELEASETOOLS_AGENT_DLL") ?? Metadata("FloydAgentAssemblyPath");

    public static string ModuleDirectory => Environment.GetEnvironmentVariable("RELEASETOOLS_MODULE_DIR") ?? Metadata("ModuleOutputDir");

    public static string RepoRoot => Metadata("RepoRoot");

    private static string Metadata(string key) =>
        typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"Build metadata '{key}' is missing; rebuild ReleaseTools.Testing.");
}
