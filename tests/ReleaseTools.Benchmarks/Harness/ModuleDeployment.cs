using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>What Scripts/Measure-Deployment.ps1 printed; the Second* figures only when the pipeline was run twice.</summary>
/// The receivers' figures are the CPU seconds of the agents named by <c>receiverProcessIds</c> during each pipeline (0 when none were named).
public sealed record ModuleRun(double Seconds, double CpuSeconds, double ReceiverCpuSeconds, int Succeeded, int Unchanged, int Failed, string? FirstError,
    double? SecondSeconds, double? SecondCpuSeconds, double? SecondReceiverCpuSeconds, int? SecondUnchanged, int? SecondSucceeded);

/// <summary>
/// A deployment as a user runs it: a pwsh process (the repository's dotnet tool) importing the built module and running
/// <c>Get-ServiceInstance | Invoke-Deployment</c> against the world's store and key (Scripts/Measure-Deployment.ps1).
/// The module's package cache goes to the world's scratch folder. <c>twice</c> runs the same pipeline again in that
/// session; <c>next</c> releases another version from another package instead.
/// </summary>
public static class ModuleDeployment
{
    public static Task<ModuleRun> RunAsync(BenchWorld world, IEnumerable<string> services, string version, string packageUrl, int throttle,
        CancellationToken cancellationToken, bool twice = false, (string Version, string PackageUrl)? next = null,
        IEnumerable<int>? receiverProcessIds = null) =>
        ChildProcessMeasurement.RunAsync<ModuleRun>("pwsh deployment",
        [
            "pwsh", "-NoProfile", "-NonInteractive", "-File", Path.Combine(AppContext.BaseDirectory, "Scripts", "Measure-Deployment.ps1"),
            "-ModulePath", Path.Combine(TestPaths.ModuleDirectory, "ReleaseTools.psd1"), "-StorePath", world.Store.Location,
            "-Service", string.Join(',', services), "-Version", version, "-PackageUrl", packageUrl,
            "-PrivateKeyPath", world.Keys.Pkcs8PrivateKeyPath, "-ConfigPath", world.ConfigPath, "-ThrottleLimit", throttle.ToString(),
            .. (twice ? new[] { "-Twice" } : []),
            .. (next is { } second ? new[] { "-SecondVersion", second.Version, "-SecondPackageUrl", second.PackageUrl } : []),
            .. (receiverProcessIds != null ? new[] { "-ReceiverProcessIds", string.Join(',', receiverProcessIds) } : []),
        ], TimeSpan.FromMinutes(15), cancellationToken, workingDirectory: TestPaths.RepoRoot,
            environment: new Dictionary<string, string> { ["XDG_DATA_HOME"] = world.Scratch.CreateDirectory("pwsh-data") });
}
