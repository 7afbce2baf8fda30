using System.Security.Cryptography;
using ReleaseTools.Agent.Activation;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent.Activation;

/// <summary>
/// A real agent (in this process, on loopback) installing real tar.gz and zip packages, with hooks that are real
/// /bin/sh processes. Each hook appends a line to a log so the order of what ran can be asserted.
/// </summary>
public sealed class ActivationTests
{
    private const string Service = "billing";

    [Fact]
    public async Task Activation_unpacks_places_the_config_switches_current_and_runs_the_hooks_in_the_release()
    {
        await using var world = await World.StartAsync(log => new ServiceSettings
        {
            ConfigPath = "conf/app.yaml",
            BeforeActivate = Hook($"echo \"before $FLOYD_VERSION prev=$FLOYD_PREVIOUS_VERSION\" >> {log}"),
            Activate = Hook($"echo \"activate $FLOYD_SERVICE $FLOYD_VERSION $FLOYD_FVERSION $(pwd) $FLOYD_RELEASE_DIR\" >> {log}; echo started"),
            AfterActivate = Hook($"echo \"after $FLOYD_VERSION\" >> {log}"),
        });
        var v1 = world.Release("1.0.0", "tar.gz");
        var v2 = world.Release("2.0.0", "zip");

        await v1.PushAndActivateAsync(world.Client, world.Endpoint);
        var result = await v2.PushAndActivateAsync(world.Client, world.Endpoint);

        var release = world.ReleaseDirectory(v2);
        Assert.Equal(v2.ReleaseName, CurrentLink.Read(world.ServiceDirectory));
        Assert.Equal("2.0.0\n", File.ReadAllText(Path.Combine(world.ServiceDirectory, "current", "VERSION")));
        Assert.Equal("value: 2.0.0\n", File.ReadAllText(Path.Combine(release, "conf", "app.yaml")));
        Assert.Equal("none", result.HealthCheck);
        Assert.Equal(new[] { "beforeActivate", "activate", "afterActivate" }, result.Hooks.Select(h => h.Stage));
        Assert.Equal("started\n", result.Hooks[1].Output);
        Assert.All(result.Hooks, h => Assert.Equal(0, h.ExitCode));
        Assert.Equal(new[]
        {
            "before 1.0.0 prev=", $"activate {Service} 1.0.0 {v1.FVersion} {world.ReleaseDirectory(v1)} {world.ReleaseDirectory(v1)}", "after 1.0.0",
            "before 2.0.0 prev=1.0.0", $"activate {Service} 2.0.0 {v2.FVersion} {release} {release}", "after 2.0.0",
        }, world.Log());
    }

    [Fact]
    public async Task A_failing_activate_hook_switches_back_and_starts_the_previous_release_again()
    {
        await using var world = await World.StartAsync(log => new ServiceSettings
        {
            Activate = Hook($"echo \"activate $FLOYD_VERSION revert=$FLOYD_REVERT\" >> {log}; if [ \"$FLOYD_VERSION\" = 2.0.0 ]; then echo 'port 8080 in use' >&2; exit 7; fi"),
        });
        var v1 = world.Release("1.0.0", "tar.gz");
        var v2 = world.Release("2.0.0", "tar.gz");
        await v1.PushAndActivateAsync(world.Client, world.Endpoint);

        var failure = await Assert.ThrowsAsync<FloydException>(() => v2.PushAndActivateAsync(world.Client, world.Endpoint));

        Assert.Equal(422, failure.StatusCode);
        Assert.Equal(FloydErrorCodes.HookFailed, failure.AgentErrorCode);
        Assert.False(failure.IsTransient);
        Assert.NotNull(failure.Activation);
        Assert.Equal("activate", failure.Activation!.FailedStep);
        Assert.Contains("exited with code 7", failure.Activation.Detail);
        Assert.Contains("port 8080 in use", failure.Activation.Output);
        Assert.True(failure.Activation.Reverted);
        Assert.Equal("1.0.0", failure.Activation.ActiveVersion);
        Assert.Equal(v1.ReleaseName, CurrentLink.Read(world.ServiceDirectory));
        Assert.Equal(new[] { "activate 1.0.0 revert=0", "activate 2.0.0 revert=0", "activate 1.0.0 revert=1" }, world.Log());
        var ping = await world.Client.PingAsync(world.Endpoint, v2.Ping(), CancellationToken.None);
        Assert.Equal("1.0.0", ping.CurrentVersion);
        Assert.Equal(v1.FVersion, ping.CurrentFVersion);
    }

    [Fact]
    public async Task A_failing_health_gate_reverts_and_a_passing_one_is_reported()
    {
        await using var world = await World.StartAsync(log => new ServiceSettings
        {
            Activate = Hook($"echo \"activate $FLOYD_VERSION\" >> {log}"),
            // Healthy when the release ships a 'healthy' file: the check runs in the release directory.
            HealthCheck = new HealthGateSettings { Command = Hook("test -f healthy || { echo 'not healthy yet'; exit 1; }"), Attempts = 2, Interval = TimeSpan.FromMilliseconds(50) },
        });
        var v1 = world.Release("1.0.0", "zip", ArchiveEntry.Text("healthy", "yes"));
        var v2 = world.Release("2.0.0", "zip");

        var passed = await v1.PushAndActivateAsync(world.Client, world.Endpoint);
        var failure = await Assert.ThrowsAsync<FloydException>(() => v2.PushAndActivateAsync(world.Client, world.Endpoint));

        Assert.Equal("passed", passed.HealthCheck);
        Assert.Equal(FloydErrorCodes.HealthCheckFailed, failure.AgentErrorCode);
        Assert.Equal("healthCheck", failure.Activation!.FailedStep);
        Assert.Contains("after 2 attempts", failure.Activation.Detail);
        Assert.Contains("not healthy yet", failure.Activation.Output);
        Assert.True(failure.Activation.Reverted);
        Assert.Equal(v1.ReleaseName, CurrentLink.Read(world.ServiceDirectory));
        Assert.Equal(new[] { "activate 1.0.0", "activate 2.0.0", "activate 1.0.0" }, world.Log());
    }

    [Fact]
    public async Task When_the_previous_release_fails_too_the_answer_is_revert_failed()
    {
        var broken = Path.Combine(Path.GetTempPath(), $"floyd-broken-{Guid.NewGuid():N}");
        await using var world = await World.StartAsync(log => new ServiceSettings
        {
            Activate = Hook($"if [ -f {broken} ]; then echo 'database gone'; exit 3; fi"),
        });
        var v1 = world.Release("1.0.0", "tar.gz");
        var v2 = world.Release("2.0.0", "tar.gz");
        await v1.PushAndActivateAsync(world.Client, world.Endpoint);
        File.WriteAllText(broken, "");
        try
        {
            var failure = await Assert.ThrowsAsync<FloydException>(() => v2.PushAndActivateAsync(world.Client, world.Endpoint));

            Assert.Equal(FloydErrorCodes.RevertFailed, failure.AgentErrorCode);
            Assert.False(failure.Activation!.Reverted);
            Assert.Contains("database gone", failure.Activation.Output);
            Assert.Contains("exited with code 3", failure.Activation.RevertDetail);
            Assert.Equal(v1.ReleaseName, CurrentLink.Read(world.ServiceDirectory));
        }
        finally
        {
            File.Delete(broken);
        }
    }

    [Fact]
    public async Task A_hook_that_outlives_its_timeout_is_killed_and_reported()
    {
        await using var world = await World.StartAsync(_ => new ServiceSettings
        {
            Activate = new HookCommand("if [ \"$FLOYD_VERSION\" = 2.0.0 ]; then echo waiting; sleep 30; fi", TimeSpan.FromMilliseconds(500)),
        });
        await world.Release("1.0.0", "tar.gz").PushAndActivateAsync(world.Client, world.Endpoint);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var failure = await Assert.ThrowsAsync<FloydException>(() => world.Release("2.0.0", "tar.gz").PushAndActivateAsync(world.Client, world.Endpoint));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Equal(FloydErrorCodes.HookFailed, failure.AgentErrorCode);
        Assert.Contains("did not finish within 0.5 s", failure.Activation!.Detail);
        Assert.Contains("waiting", failure.Activation.Output);
    }

    [Fact]
    public async Task Rolling_back_to_a_kept_release_reuses_its_directory_and_runs_the_hooks()
    {
        await using var world = await World.StartAsync(log => new ServiceSettings { Activate = Hook($"echo \"activate $FLOYD_VERSION\" >> {log}") });
        var v1 = world.Release("1.0.0", "tar.gz");
        var v2 = world.Release("2.0.0", "tar.gz");
        await v1.PushAndActivateAsync(world.Client, world.Endpoint);
        await v2.PushAndActivateAsync(world.Client, world.Endpoint);
        // A file the service wrote into its release: unpacking again would lose it.
        var written = Path.Combine(world.ReleaseDirectory(v1), "written-by-the-service");
        File.WriteAllText(written, "kept");

        var ping = await world.Client.PingAsync(world.Endpoint, v1.Ping(), CancellationToken.None);
        await world.Client.ActivateAsync(world.Endpoint, v1.Activate, CancellationToken.None);

        Assert.False(ping.NeedPackage);
        Assert.False(ping.NeedConfig);
        Assert.Equal("kept", File.ReadAllText(written));
        Assert.Equal(v1.ReleaseName, CurrentLink.Read(world.ServiceDirectory));
        Assert.Equal(new[] { "activate 1.0.0", "activate 2.0.0", "activate 1.0.0" }, world.Log());
    }

    [Fact]
    public async Task Retention_keeps_exactly_keep_releases_installed_directories()
    {
        await using var world = await World.StartAsync(_ => new ServiceSettings(), keepReleases: 2);
        var releases = Enumerable.Range(1, 4).Select(i => world.Release($"{i}.0.0", "tar.gz")).ToArray();

        foreach (var release in releases)
        {
            await release.PushAndActivateAsync(world.Client, world.Endpoint);
        }

        var installed = Directory.GetDirectories(Path.Combine(world.ServiceDirectory, "releases")).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(new[] { releases[2].ReleaseName, releases[3].ReleaseName }, installed);
        var status = Assert.Single((await world.Client.GetStatusAsync(world.Endpoint, CancellationToken.None)).Services);
        Assert.Equal(new[] { "3.0.0", "4.0.0" }, status.StoredVersions);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_single_file_package_is_installed_as_the_stored_bytes_themselves_read_only_and_whole()
    {
        await using var world = await World.StartAsync(_ => new ServiceSettings());
        var bytes = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var release = TestRelease.FromPackage(Service, "1.0.0", world.Temp.WriteFile("packages/tool-1.0.0.jar", bytes), "value: 1.0.0\n");

        await release.PushAndActivateAsync(world.Client, world.Endpoint);

        var installed = Path.Combine(world.ReleaseDirectory(release), "tool-1.0.0.jar");
        var stored = world.StoredPackage(release);
        Assert.Equal(bytes, File.ReadAllBytes(installed));
        // One write of the package: the installed name and the stored one are the same file (same inode, two links).
        Assert.Equal(Stat("%i %h", stored), Stat("%i %h", installed));
        Assert.EndsWith(" 2", Stat("%i %h", installed));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(installed) & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
        Assert.Equal(release.PackageMd5, Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(stored))));
    }

    [Fact]
    public async Task A_config_placed_at_the_name_of_a_single_file_package_replaces_it_in_the_release_and_leaves_the_stored_package_whole()
    {
        // configPath names the package's own file: the config wins in the release directory, as it did when the package
        // was copied; writing it through the shared file would have changed the stored package too.
        await using var world = await World.StartAsync(_ => new ServiceSettings { ConfigPath = "tool.jar" });
        var bytes = RandomNumberGenerator.GetBytes(64 * 1024);
        var package = world.Temp.WriteFile("packages/tool.jar", bytes);
        var first = TestRelease.FromPackage(Service, "1.0.0", package, "value: first\n");
        var second = TestRelease.FromPackage(Service, "1.0.0", package, "value: second\n");

        await first.PushAndActivateAsync(world.Client, world.Endpoint);

        Assert.Equal("value: first\n", File.ReadAllText(Path.Combine(world.ReleaseDirectory(first), "tool.jar")));
        Assert.Equal(first.PackageMd5, Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(world.StoredPackage(first)))));
        var ping = await world.Client.PingAsync(world.Endpoint, second.Ping(), CancellationToken.None);
        Assert.False(ping.NeedPackage);
        await second.PushAndActivateAsync(world.Client, world.Endpoint);
        Assert.Equal("value: second\n", File.ReadAllText(Path.Combine(world.ReleaseDirectory(second), "tool.jar")));
        Assert.Equal(first.PackageMd5, Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(world.StoredPackage(first)))));
    }

    [Fact]
    public async Task A_single_file_package_on_another_file_system_than_the_package_store_is_copied()
    {
        // /dev/shm is a tmpfs of its own on Linux: link(2) from the data directory fails there with EXDEV and the agent copies.
        Assert.True(Directory.Exists("/dev/shm"), "this test needs /dev/shm");
        Assert.NotEqual(Stat("%d", Path.GetTempPath()), Stat("%d", "/dev/shm"));

        var serviceDirectory = Path.Combine("/dev/shm", $"floyd-service-{Guid.NewGuid():N}");
        try
        {
            await using var world = await World.StartAsync(_ => new ServiceSettings { Directory = serviceDirectory });
            var bytes = RandomNumberGenerator.GetBytes(256 * 1024);
            var release = TestRelease.FromPackage(Service, "1.0.0", world.Temp.WriteFile("packages/tool.bin", bytes), "value: 1.0.0\n");

            await release.PushAndActivateAsync(world.Client, world.Endpoint);

            var installed = Path.Combine(serviceDirectory, "releases", release.ReleaseName, "tool.bin");
            Assert.Equal(bytes, File.ReadAllBytes(installed));
            Assert.EndsWith(" 1", Stat("%i %h", installed));
            Assert.Equal(release.ReleaseName, CurrentLink.Read(serviceDirectory));
        }
        finally
        {
            if (Directory.Exists(serviceDirectory)) Directory.Delete(serviceDirectory, recursive: true);
        }
    }

    /// <summary><c>stat -c FORMAT</c>: the inode, link count or device of a file, which .NET does not expose.</summary>
    private static string Stat(string format, string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true })!;
        var output = stat.StandardOutput.ReadToEnd().Trim();
        Assert.True(stat.WaitForExit(30_000), "stat did not finish");
        Assert.Equal(0, stat.ExitCode);
        return output;
    }

    [Theory]
    [InlineData("zip-slip")]
    [InlineData("tar-symlink-escape")]
    [InlineData("absolute-path")]
    [InlineData("over-limit")]
    public async Task An_unsafe_package_is_refused_with_nothing_written_outside_and_the_previous_release_active(string shape)
    {
        await using var world = await World.StartAsync(log => new ServiceSettings { Activate = Hook($"echo \"activate $FLOYD_VERSION\" >> {log}"), MaxExpandedBytes = 200_000 });
        var v1 = world.Release("1.0.0", "tar.gz");
        await v1.PushAndActivateAsync(world.Client, world.Endpoint);
        var escapeName = $"floyd-escape-{Guid.NewGuid():N}";
        var outside = Path.Combine(world.ServiceDirectory, escapeName);
        var bad = shape switch
        {
            "zip-slip" => world.Package("2.0.0", "zip", ArchiveEntry.Text($"../../{escapeName}", "owned")),
            "tar-symlink-escape" => world.Package("2.0.0", "tar.gz", ArchiveEntry.Link("logs", "../.."), ArchiveEntry.Text($"logs/{escapeName}", "owned")),
            "absolute-path" => world.Package("2.0.0", "tar.gz", ArchiveEntry.Text(outside, "owned")),
            _ => world.Package("2.0.0", "zip", new ArchiveEntry("big.bin", Content: new byte[300_000])),
        };
        var v2 = TestRelease.FromPackage(Service, "2.0.0", bad, "value: 2.0.0\n");

        var failure = await Assert.ThrowsAsync<FloydException>(() => v2.PushAndActivateAsync(world.Client, world.Endpoint));

        Assert.Equal(shape == "over-limit" ? FloydErrorCodes.PackageTooLarge : FloydErrorCodes.PackageUnsafe, failure.AgentErrorCode);
        Assert.Equal("unpack", failure.Activation!.FailedStep);
        Assert.Equal("1.0.0", failure.Activation.ActiveVersion);
        Assert.False(File.Exists(outside));
        Assert.False(File.Exists(Path.Combine(world.ServiceDirectory, "releases", escapeName)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(world.Temp.Path, escapeName, SearchOption.AllDirectories));
        Assert.Equal(new[] { v1.ReleaseName }, Directory.GetDirectories(Path.Combine(world.ServiceDirectory, "releases")).Select(Path.GetFileName));
        Assert.Equal(v1.ReleaseName, CurrentLink.Read(world.ServiceDirectory));
        Assert.Equal(new[] { "activate 1.0.0" }, world.Log());
        Assert.Equal("1.0.0", (await world.Client.PingAsync(world.Endpoint, v1.Ping(), CancellationToken.None)).CurrentVersion);
    }

    [Fact]
    public async Task Package_hooks_run_only_when_the_service_allows_them()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"floyd-package-hook-{Guid.NewGuid():N}");
        var hookEntries = new[] { ArchiveEntry.Text("deploy/activate.sh", $"echo \"package hook $FLOYD_VERSION\" > {marker}\n", mode: 0b111_101_101) };
        try
        {
            await using (var refusing = await World.StartAsync(_ => new ServiceSettings()))
            {
                var result = await refusing.Release("1.0.0", "tar.gz", hookEntries).PushAndActivateAsync(refusing.Client, refusing.Endpoint);
                Assert.Empty(result.Hooks);
                Assert.False(File.Exists(marker));
            }

            await using var allowing = await World.StartAsync(_ => new ServiceSettings { AllowPackageHooks = true });
            var allowed = await allowing.Release("1.0.0", "tar.gz", hookEntries).PushAndActivateAsync(allowing.Client, allowing.Endpoint);
            Assert.Equal("package", Assert.Single(allowed.Hooks).Source);
            Assert.Equal("package hook 1.0.0\n", File.ReadAllText(marker));
        }
        finally
        {
            File.Delete(marker);
        }
    }

    private static HookCommand Hook(string run) => new(run, TimeSpan.FromSeconds(20));

    /// <summary>An in-process agent with one configured service, its data under a temp folder, and a hook log.</summary>
    private sealed class World : IAsyncDisposable
    {
        private readonly AgentHarness _harness;

        private World(AgentHarness harness, string log)
        {
            _harness = harness;
            LogPath = log;
            Client = harness.CreateClient();
        }

        public FloydClient Client { get; }
        public FloydEndpoint Endpoint => _harness.Endpoint;
        public TempDirectory Temp => _harness.Temp;
        public string LogPath { get; }
        public string ServiceDirectory => Path.Combine(_harness.DataDirectory, "services", Service);

        public static async Task<World> StartAsync(Func<string, ServiceSettings> settings, int keepReleases = 5)
        {
            if (OperatingSystem.IsWindows())
            {
                throw new PlatformNotSupportedException("These tests run hooks with /bin/sh.");
            }

            var log = Path.Combine(Path.GetTempPath(), $"floyd-hooks-{Guid.NewGuid():N}.log");
            var harness = await AgentHarness.StartAsync(o => o with
            {
                KeepReleases = keepReleases,
                Services = new Dictionary<string, ServiceSettings> { [Service] = settings(log) },
            });
            return new World(harness, log);
        }

        public string Package(string version, string kind, params ArchiveEntry[] entries) => kind == "zip"
            ? TestArchives.Zip(Temp.Combine("packages", $"{Service}-{version}-{Guid.NewGuid():N}.zip"), entries)
            : TestArchives.TarGz(Temp.Combine("packages", $"{Service}-{version}-{Guid.NewGuid():N}.tar.gz"), entries);

        /// <summary>A package holding VERSION and <paramref name="extra"/>, with config "value: &lt;version&gt;".</summary>
        public TestRelease Release(string version, string kind, params ArchiveEntry[] extra) =>
            TestRelease.FromPackage(Service, version, Package(version, kind, new[] { ArchiveEntry.Text("VERSION", version + "\n") }.Concat(extra).ToArray()), $"value: {version}\n");

        public string ReleaseDirectory(TestRelease release) => Path.Combine(ServiceDirectory, "releases", release.ReleaseName);

        public string StoredPackage(TestRelease release) => Path.Combine(_harness.DataDirectory, "packages", release.PackageMd5 + ".pkg");

        public string[] Log() => File.Exists(LogPath) ? File.ReadAllLines(LogPath) : Array.Empty<string>();

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await _harness.DisposeAsync();
            File.Delete(LogPath);
        }
    }
}
