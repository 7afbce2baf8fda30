using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

public sealed class AgentStorageTests
{
    [Fact]
    public async Task Retention_keeps_the_active_and_previous_releases_and_drops_older_ones()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { KeepReleases = 1 });
        using var client = harness.CreateClient();
        var releases = Enumerable.Range(1, 4).Select(i => TestRelease.Create(harness.Temp, "billing", $"{i}.0.0")).ToArray();

        foreach (var release in releases)
        {
            await release.DeployAsync(client, harness.Endpoint);
        }

        var status = Assert.Single((await client.GetStatusAsync(harness.Endpoint, CancellationToken.None)).Services);
        Assert.Equal(new[] { "3.0.0", "4.0.0" }, status.StoredVersions);
        Assert.Equal(2, harness.StoredPackageFiles().Length);
        Assert.True((await client.PingAsync(harness.Endpoint, releases[0].Ping(), CancellationToken.None)).NeedPackage);

        // Rolling back to the previous release needs no transfer.
        var rollback = await client.PingAsync(harness.Endpoint, releases[2].Ping(), CancellationToken.None);
        Assert.False(rollback.NeedPackage);
        Assert.False(rollback.NeedConfig);
        await client.ActivateAsync(harness.Endpoint, releases[2].Activate, CancellationToken.None);
        var after = Assert.Single((await client.GetStatusAsync(harness.Endpoint, CancellationToken.None)).Services);
        Assert.Equal("3.0.0", after.ActiveVersion);
        Assert.Equal(new[] { "3.0.0", "4.0.0" }, after.StoredVersions);
    }

    [Fact]
    public async Task Retention_keeps_the_requested_number_of_recent_releases()
    {
        await using var harness = await AgentHarness.StartAsync(o => o with { KeepReleases = 3 });
        using var client = harness.CreateClient();

        foreach (var i in Enumerable.Range(1, 6))
        {
            await TestRelease.Create(harness.Temp, "billing", $"{i}.0.0").DeployAsync(client, harness.Endpoint);
        }

        var status = Assert.Single((await client.GetStatusAsync(harness.Endpoint, CancellationToken.None)).Services);
        Assert.Equal(new[] { "4.0.0", "5.0.0", "6.0.0" }, status.StoredVersions);
    }

    /// <summary>
    /// Section 8: keep exactly the --keep-releases most recently used releases, "used" meaning received or activated,
    /// plus the active one, the one before it and any being received. Each step moves the agent's clock one second, so
    /// "most recent" is never a tie.
    /// </summary>
    [Fact]
    public async Task Retention_keeps_exactly_the_most_recently_received_or_activated_releases_as_section_8_says()
    {
        var clock = new FixedTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await AgentHarness.StartAsync(o => o with { KeepReleases = 3, TimeProvider = clock });
        using var client = harness.CreateClient();
        var r = Enumerable.Range(1, 8).ToDictionary(i => i, i => TestRelease.Create(harness.Temp, "billing", $"{i}.0.0"));
        async Task Deploy(int i)
        {
            clock.Now += TimeSpan.FromSeconds(1);
            await r[i].DeployAsync(client, harness.Endpoint);
        }

        async Task<string[]> Stored() => Assert.Single((await client.GetStatusAsync(harness.Endpoint, CancellationToken.None)).Services).StoredVersions.ToArray();

        foreach (var i in new[] { 1, 2, 3, 4 })
        {
            await Deploy(i);
        }

        Assert.Equal(new[] { "2.0.0", "3.0.0", "4.0.0" }, await Stored());

        // Going back to 3.0.0 uses it again: activated after 4.0.0 was, it now outlives 4.0.0, which was received later.
        await Deploy(3);
        await Deploy(5);
        await Deploy(6);
        Assert.Equal(new[] { "3.0.0", "5.0.0", "6.0.0" }, await Stored());

        // Received but never activated counts as used too; it is kept, and the oldest use (3.0.0) goes.
        clock.Now += TimeSpan.FromSeconds(1);
        await client.PushPackageAsync(harness.Endpoint, r[7].Package, CancellationToken.None);
        await client.PushConfigAsync(harness.Endpoint, r[7].ConfigPush, CancellationToken.None);
        await Deploy(8);
        Assert.Equal(new[] { "6.0.0", "7.0.0", "8.0.0" }, await Stored());
        Assert.Equal(3, harness.StoredPackageFiles().Length);
        Assert.Equal(new[] { r[6].ReleaseName, r[8].ReleaseName },
            Directory.GetDirectories(Path.Combine(harness.DataDirectory, "services", "billing", "releases")).Select(Path.GetFileName).Order().ToArray());

        // 3.0.0 is gone whole: going back to it would need its package and config again.
        var ping = await client.PingAsync(harness.Endpoint, r[3].Ping(), CancellationToken.None);
        Assert.True(ping.NeedPackage && ping.NeedConfig);
    }

    [Fact]
    public async Task Retention_never_deletes_a_release_being_received()
    {
        using var temp = new TempDirectory("floyd-retention");
        var clock = new FixedTimeProvider(DateTimeOffset.UtcNow);
        var options = new FloydAgentOptions { DataDirectory = temp.Combine("data"), KeepReleases = 0, TimeProvider = clock };
        var repository = new ReleaseRepository(options, NullLogger<ReleaseRepository>.Instance);
        repository.Initialize();
        await StoreReleaseAsync(repository, "billing", "1.0.0", "fv1", seed: 1);
        await repository.ActivateAsync("billing", "1.0.0", "fv1", CancellationToken.None);
        await StoreReleaseAsync(repository, "billing", "2.0.0", "fv2", seed: 2);
        await repository.ActivateAsync("billing", "2.0.0", "fv2", CancellationToken.None);
        clock.Now += TimeSpan.FromHours(2);

        // 3.0.0's config arrives while 4.0.0 is activated (keep-releases 0 keeps nothing that is not protected).
        using (repository.BeginReceive("billing", "3.0.0", "fv3", md5: null))
        {
            await StoreReleaseAsync(repository, "billing", "3.0.0", "fv3", seed: 3);
            await StoreReleaseAsync(repository, "billing", "4.0.0", "fv4", seed: 4);
            clock.Now += TimeSpan.FromHours(2);
            await repository.ActivateAsync("billing", "4.0.0", "fv4", CancellationToken.None);

            Assert.NotNull(repository.GetVersion("billing", "3.0.0"));
            Assert.NotNull(repository.GetConfig("billing", "fv3"));
            Assert.NotNull(repository.GetVersion("billing", "2.0.0"));
            Assert.Null(repository.GetVersion("billing", "1.0.0"));
        }

        await repository.ActivateAsync("billing", "3.0.0", "fv3", CancellationToken.None);
        Assert.Equal("3.0.0", repository.GetActive("billing")!.Version);
    }

    [Fact]
    public async Task Config_is_written_with_mode_644_whatever_the_umask()
    {
        await using var harness = await AgentHarness.StartAsync();
        using var client = harness.CreateClient();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");
        var path = Path.Combine(harness.DataDirectory, "services", "billing", "configs", release.FVersion, release.ConfigFileName);
        if (OperatingSystem.IsWindows())
        {
            // No Unix modes there: the config must still arrive intact.
            await client.PushConfigAsync(harness.Endpoint, release.ConfigPush, CancellationToken.None);
            Assert.Equal(release.Config, File.ReadAllBytes(path));
            return;
        }

        var previous = umask(Convert.ToUInt32("077", 8));
        try
        {
            await client.PushConfigAsync(harness.Endpoint, release.ConfigPush, CancellationToken.None);
        }
        finally
        {
            umask(previous);
        }

        Assert.Equal(release.Config, File.ReadAllBytes(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task Partial_files_left_by_a_crash_are_removed_on_start()
    {
        using var temp = new TempDirectory("floyd-partial");
        var data = temp.Combine("data");
        var partialPackage = temp.WriteFile("data/tmp/0123.partial", new byte[1000]);
        var partialRecord = temp.WriteFile("data/services/billing/.active.json.abc.tmp", "{\"version\":");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));

        await using (await FloydAgentHost.StartAsync(new FloydAgentOptions { DataDirectory = data, AuthorizedKeyFiles = new[] { keys.PublicKeyPath } }))
        {
            Assert.False(File.Exists(partialPackage));
            Assert.False(File.Exists(partialRecord));
        }
    }

    [Fact]
    public void Command_line_accepts_repeated_keys_and_every_option()
    {
        var options = FloydAgentCommandLine.Parse(new[]
        {
            "--urls", "http://127.0.0.1:7070", "--data-dir", "/var/lib/floyd", "--authorized-key", "a.pem", "--authorized-key=b.pem",
            "--hash-algorithm", "sha256", "--clock-skew", "90", "--max-body-bytes", "1048576", "--keep-releases", "3",
        });

        Assert.Equal(new[] { "http://127.0.0.1:7070" }, options.Urls);
        Assert.Equal("/var/lib/floyd", options.DataDirectory);
        Assert.Equal(new[] { "a.pem", "b.pem" }, options.AuthorizedKeyFiles);
        Assert.Equal(FloydHashAlgorithm.Sha256, options.HashAlgorithm);
        Assert.Equal(TimeSpan.FromSeconds(90), options.ClockSkew);
        Assert.Equal(1048576, options.MaxBodyBytes);
        Assert.Equal(3, options.KeepReleases);
    }

    [Theory]
    [InlineData("--data-dir", "d")]
    [InlineData("--data-dir", "d", "--authorized-key", "k", "--hash-algorithm", "md5")]
    [InlineData("--data-dir", "d", "--authorized-key", "k", "--max-body-bytes", "-1")]
    [InlineData("--data-dir", "d", "--authorized-key", "k", "--unknown")]
    [InlineData("--authorized-key")]
    public void Command_line_refuses_incomplete_or_invalid_options(params string[] args)
    {
        Assert.Throws<FormatException>(() => FloydAgentCommandLine.Parse(args));
    }

    private static async Task StoreReleaseAsync(ReleaseRepository repository, string service, string version, string fversion, int seed)
    {
        var bytes = new byte[1000];
        new Random(seed).NextBytes(bytes);
        var md5 = Convert.ToHexStringLower(MD5.HashData(bytes));
        using (var receipt = repository.BeginReceive(service, version, fversion, md5))
        {
            await File.WriteAllBytesAsync(receipt.TempPath, bytes);
            await repository.CommitPackageAsync(receipt, version, md5, "pkg.zip", bytes.Length, CancellationToken.None);
        }

        using (var receipt = repository.BeginReceive(service, version, fversion, null))
        {
            await File.WriteAllTextAsync(receipt.TempPath, $"version: {version}\n");
            await repository.CommitConfigAsync(receipt, version, fversion, "app.yaml", md5, CancellationToken.None);
        }
    }

    [DllImport("libc", EntryPoint = "umask")]
    private static extern uint umask(uint mask);
}
