using System.Security.Cryptography;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Packages;

public sealed class PackageAcquirerTests : IAsyncLifetime
{
    private readonly TempDirectory _temp = new();
    private PackageServer _server = null!;

    public async Task InitializeAsync() => _server = await PackageServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _temp.Dispose();
    }

    private PackageAcquirer NewAcquirer(long maxBytes = 64L * 1024 * 1024) =>
        new(new PackageCache(Path.Combine(_temp.Path, "cache")), maxBytes, TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Download_streams_to_the_cache_and_computes_the_md5_on_the_way()
    {
        var content = PackageServer.RandomBytes(300_000, 1);
        var url = _server.Add("app/1.0/app.zip", content);
        using var acquirer = NewAcquirer();
        var reports = new List<long>();

        var package = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, (received, _, _) => reports.Add(received), CancellationToken.None);

        Assert.Equal(Convert.ToHexString(MD5.HashData(content)).ToLowerInvariant(), package.Md5);
        Assert.Equal(content.Length, package.Length);
        Assert.False(package.FromCache);
        Assert.Equal(content, await File.ReadAllBytesAsync(package.FilePath));
        Assert.StartsWith(acquirer.Cache.RootDirectory, package.FilePath);
        Assert.Equal(content.Length, reports.Last());
        Assert.Empty(Directory.GetFiles(acquirer.Cache.RootDirectory, "*.partial", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_known_url_and_md5_is_served_from_the_cache_without_a_request()
    {
        var content = PackageServer.RandomBytes(70_000, 2);
        var url = _server.Add("app.zip", content);
        using var acquirer = NewAcquirer();
        var first = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);

        var second = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), first.Md5.ToUpperInvariant(), null, CancellationToken.None);

        Assert.True(second.FromCache);
        Assert.Equal(first.FilePath, second.FilePath);
        Assert.Equal(1, _server.Gets("app.zip"));
    }

    [Fact]
    public async Task Only_a_package_written_by_this_acquisition_has_its_md5_taken_from_its_own_bytes()
    {
        var content = PackageServer.RandomBytes(90_000, 3);
        var url = _server.Add("pkg/app.zip", content);
        var local = _temp.WriteFile("local/app.zip", content);
        File.SetLastWriteTimeUtc(local, DateTime.UtcNow.AddMinutes(-5));
        using var acquirer = NewAcquirer();

        var downloaded = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);
        var copied = await acquirer.AcquireAsync(PackageLocation.Parse(local, true), null, null, CancellationToken.None);
        var cachedByMd5 = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), downloaded.Md5, null, CancellationToken.None);
        var unchangedLocal = await acquirer.AcquireAsync(PackageLocation.Parse(local, true), null, null, CancellationToken.None);

        Assert.True(downloaded.Md5ComputedFromFile);
        Assert.True(copied.Md5ComputedFromFile);
        // Files found in the cache were hashed by an earlier acquisition: every push hashes them again as it signs.
        Assert.True(cachedByMd5.FromCache);
        Assert.False(cachedByMd5.Md5ComputedFromFile);
        Assert.True(unchangedLocal.FromCache);
        Assert.False(unchangedLocal.Md5ComputedFromFile);
    }

    [Theory]
    [InlineData("etag")]
    [InlineData("weak-etag")]
    [InlineData("last-modified")]
    public async Task An_unchanged_url_is_not_downloaded_again_when_the_server_answers_not_modified(string validator)
    {
        _server.SendETag = validator.EndsWith("etag", StringComparison.Ordinal);
        _server.WeakETag = validator == "weak-etag";
        _server.SendLastModified = validator == "last-modified";
        var content = PackageServer.RandomBytes(200_000, 21);
        var url = _server.Add("web/web.zip", content);
        using var acquirer = NewAcquirer();
        var first = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);
        var reports = new List<(long Received, bool FromCache)>();

        var second = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, (received, _, cached) => reports.Add((received, cached)), CancellationToken.None);

        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(first.Md5, second.Md5);
        Assert.Equal(first.FilePath, second.FilePath);
        Assert.Equal(content.Length, second.Length);
        Assert.Equal(2, _server.Gets("web/web.zip"));
        Assert.Equal(1, _server.NotModifiedAnswers);
        Assert.Equal(content.Length, _server.BodyBytesSent);
        Assert.Equal([(content.Length, true)], reports);
    }

    [Theory]
    [InlineData("etag")]
    [InlineData("last-modified")]
    public async Task A_package_replaced_at_the_same_url_is_downloaded_again_and_its_new_md5_used(string validator)
    {
        _server.SendETag = validator == "etag";
        _server.SendLastModified = validator == "last-modified";
        var url = _server.Add("web/web.zip", PackageServer.RandomBytes(100_000, 22));
        using var acquirer = NewAcquirer();
        var first = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);
        var replacement = PackageServer.RandomBytes(120_000, 23);
        _server.Add("web/web.zip", replacement);

        var second = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);

        Assert.False(second.FromCache);
        Assert.NotEqual(first.Md5, second.Md5);
        Assert.Equal(Convert.ToHexString(MD5.HashData(replacement)).ToLowerInvariant(), second.Md5);
        Assert.Equal(replacement, await File.ReadAllBytesAsync(second.FilePath));
        Assert.Equal(0, _server.NotModifiedAnswers);

        // The validators now describe the replacement: a third run revalidates against it.
        var third = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);
        Assert.True(third.FromCache);
        Assert.Equal(second.Md5, third.Md5);
    }

    [Fact]
    public async Task A_server_without_validators_is_downloaded_in_full_every_time()
    {
        var content = PackageServer.RandomBytes(50_000, 24);
        var url = _server.Add("plain.zip", content);
        using var acquirer = NewAcquirer();
        await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);

        var second = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);

        Assert.False(second.FromCache);
        Assert.Equal(2L * content.Length, _server.BodyBytesSent);
        Assert.Equal(0, _server.NotModifiedAnswers);
    }

    [Fact]
    public async Task A_cached_copy_deleted_since_the_last_download_is_downloaded_again_unconditionally()
    {
        _server.SendETag = true;
        var content = PackageServer.RandomBytes(60_000, 25);
        var url = _server.Add("gone.zip", content);
        using var acquirer = NewAcquirer();
        var first = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);
        File.Delete(first.FilePath);

        var second = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);

        Assert.False(second.FromCache);
        Assert.Equal(content, await File.ReadAllBytesAsync(second.FilePath));
        Assert.Equal(0, _server.NotModifiedAnswers);
    }

    [Fact]
    public async Task A_checksum_mismatch_fails_and_leaves_nothing_in_the_cache()
    {
        var url = _server.Add("app.zip", PackageServer.RandomBytes(70_000, 3));
        using var acquirer = NewAcquirer();
        var wrong = Md5Hex.Of(new byte[] { 9 });

        var error = await Assert.ThrowsAsync<DeploymentException>(() =>
            acquirer.AcquireAsync(PackageLocation.Parse(url, false), wrong, null, CancellationToken.None));

        Assert.Equal(EngineErrorIds.PackageChecksumMismatch, error.ErrorId);
        Assert.Equal(DeploymentErrorKind.InvalidData, error.Kind);
        Assert.Contains(wrong, error.Message);
        Assert.Empty(Directory.GetFiles(acquirer.Cache.RootDirectory, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_missing_package_is_reported_as_not_found_by_head_and_by_get()
    {
        using var acquirer = NewAcquirer();
        var location = PackageLocation.Parse(_server.Url("nope/app.zip"), false);

        var probe = await Assert.ThrowsAsync<DeploymentException>(() => acquirer.ProbeAsync(location, CancellationToken.None));
        var download = await Assert.ThrowsAsync<DeploymentException>(() => acquirer.AcquireAsync(location, null, null, CancellationToken.None));

        Assert.Equal(EngineErrorIds.PackageNotFound, probe.ErrorId);
        Assert.Equal(EngineErrorIds.PackageNotFound, download.ErrorId);
        Assert.Contains("404", probe.Message);
        Assert.Equal(DeploymentErrorKind.ObjectNotFound, download.Kind);
    }

    [Fact]
    public async Task Probe_reports_the_size_from_head()
    {
        var url = _server.Add("app.zip", new byte[12345]);
        using var acquirer = NewAcquirer();

        var probe = await acquirer.ProbeAsync(PackageLocation.Parse(url, false), CancellationToken.None);

        Assert.True(probe.Checked);
        Assert.Equal(12345, probe.Length);
        Assert.Equal(1, _server.Heads("app.zip"));
        Assert.Equal(0, _server.Gets("app.zip"));
    }

    [Theory]
    [InlineData(405)]
    [InlineData(501)]
    [InlineData(403)]
    public async Task Probe_leaves_the_verdict_to_the_download_when_the_server_refuses_head(int headStatus)
    {
        var url = _server.Add("app.zip", new byte[12345]);
        _server.HeadStatus = headStatus;
        using var acquirer = NewAcquirer();

        var probe = await acquirer.ProbeAsync(PackageLocation.Parse(url, false), CancellationToken.None);
        var package = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);

        Assert.False(probe.Checked);
        Assert.Null(probe.Length);
        Assert.Equal(12345, package.Length);
    }

    [Fact]
    public async Task A_server_error_on_head_is_a_clear_unavailable_error()
    {
        var url = _server.Add("app.zip", new byte[10]);
        _server.HeadStatus = 502;
        using var acquirer = NewAcquirer();

        var error = await Assert.ThrowsAsync<DeploymentException>(() => acquirer.ProbeAsync(PackageLocation.Parse(url, false), CancellationToken.None));

        Assert.Equal(EngineErrorIds.PackageDownloadFailed, error.ErrorId);
        Assert.Equal(DeploymentErrorKind.ResourceUnavailable, error.Kind);
        Assert.Contains("502", error.Message);
    }

    [Fact]
    public async Task Packages_over_the_size_limit_are_refused_before_and_during_download()
    {
        var url = _server.Add("big.zip", new byte[20_000]);
        using var acquirer = NewAcquirer(maxBytes: 10_000);

        var probe = await Assert.ThrowsAsync<DeploymentException>(() => acquirer.ProbeAsync(PackageLocation.Parse(url, false), CancellationToken.None));
        var download = await Assert.ThrowsAsync<DeploymentException>(() =>
            acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None));

        Assert.Equal(EngineErrorIds.PackageTooLarge, probe.ErrorId);
        Assert.Equal(EngineErrorIds.PackageTooLarge, download.ErrorId);
        Assert.Empty(Directory.GetFiles(acquirer.Cache.RootDirectory, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_local_package_is_copied_into_the_cache_with_its_md5()
    {
        var content = PackageServer.RandomBytes(100_000, 4);
        var path = Path.Combine(_temp.Path, "local.zip");
        await File.WriteAllBytesAsync(path, content);
        using var acquirer = NewAcquirer();

        var probe = await acquirer.ProbeAsync(PackageLocation.Parse(path, true), CancellationToken.None);
        var package = await acquirer.AcquireAsync(PackageLocation.Parse(path, true), null, null, CancellationToken.None);
        File.Delete(path);

        Assert.Equal(content.Length, probe.Length);
        Assert.Equal(Md5Hex.Of(content), package.Md5);
        Assert.Equal(path, package.Source);
        Assert.Equal(content, await File.ReadAllBytesAsync(package.FilePath));
    }

    [Fact]
    public async Task An_unchanged_local_package_is_not_copied_again_and_a_changed_one_is()
    {
        var path = Path.Combine(_temp.Path, "web-1.5.0.zip");
        await File.WriteAllBytesAsync(path, PackageServer.RandomBytes(100_000, 5));
        var written = DateTime.UtcNow.AddHours(-1);
        File.SetLastWriteTimeUtc(path, written);
        using var acquirer = NewAcquirer();
        var location = PackageLocation.Parse(path, true);
        var first = await acquirer.AcquireAsync(location, null, null, CancellationToken.None);
        var cacheFile = new FileInfo(first.FilePath);

        AcquiredPackage again, withChecksum;
        // Held exclusively meanwhile: copying the file again would have to open it, and that open would fail.
        using (new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None))
        {
            again = await acquirer.AcquireAsync(location, null, null, CancellationToken.None);
            withChecksum = await acquirer.AcquireAsync(location, first.Md5, null, CancellationToken.None);
        }

        Assert.False(first.FromCache);
        Assert.True(again.FromCache);
        Assert.Equal((first.FilePath, first.Md5, first.Length), (again.FilePath, again.Md5, again.Length));
        Assert.True(withChecksum.FromCache);
        cacheFile.Refresh();
        Assert.Equal(cacheFile.LastWriteTimeUtc, new FileInfo(again.FilePath).LastWriteTimeUtc);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(first.FilePath)!, "*.pkg"));

        // Same size, other bytes, a new last-write time: copied and hashed again.
        var changed = PackageServer.RandomBytes(100_000, 6);
        await File.WriteAllBytesAsync(path, changed);
        File.SetLastWriteTimeUtc(path, written.AddMinutes(1));
        var redeployed = await acquirer.AcquireAsync(location, null, null, CancellationToken.None);

        Assert.False(redeployed.FromCache);
        Assert.Equal(Md5Hex.Of(changed), redeployed.Md5);
        Assert.NotEqual(first.FilePath, redeployed.FilePath);
        Assert.Equal(changed, await File.ReadAllBytesAsync(redeployed.FilePath));
    }

    [Fact]
    public async Task A_local_package_written_just_before_the_copy_is_copied_again_next_time()
    {
        // Its last-write time may not yet tell one write from the next (coarse file-system clocks), so it proves nothing.
        var path = Path.Combine(_temp.Path, "fresh.zip");
        await File.WriteAllBytesAsync(path, PackageServer.RandomBytes(50_000, 7));
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
        using var acquirer = NewAcquirer();
        var location = PackageLocation.Parse(path, true);

        var first = await acquirer.AcquireAsync(location, null, null, CancellationToken.None);
        var second = await acquirer.AcquireAsync(location, null, null, CancellationToken.None);

        Assert.False(first.FromCache);
        Assert.False(second.FromCache);
        Assert.Equal(first.Md5, second.Md5);
    }

    [Fact]
    public async Task An_unchanged_local_package_under_another_expected_checksum_is_a_mismatch()
    {
        var path = Path.Combine(_temp.Path, "pinned.zip");
        await File.WriteAllBytesAsync(path, PackageServer.RandomBytes(40_000, 8));
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-1));
        using var acquirer = NewAcquirer();
        var location = PackageLocation.Parse(path, true);
        await acquirer.AcquireAsync(location, null, null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<DeploymentException>(() =>
            acquirer.AcquireAsync(location, "0123456789abcdef0123456789abcdef", null, CancellationToken.None));

        Assert.Equal(EngineErrorIds.PackageChecksumMismatch, error.ErrorId);
    }

    [Fact]
    public async Task A_missing_local_file_is_reported_as_not_found()
    {
        using var acquirer = NewAcquirer();
        var location = PackageLocation.Parse(Path.Combine(_temp.Path, "absent.zip"), true);

        var error = await Assert.ThrowsAsync<DeploymentException>(() => acquirer.ProbeAsync(location, CancellationToken.None));

        Assert.Equal(EngineErrorIds.PackageNotFound, error.ErrorId);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_connection_error()
    {
        using var acquirer = NewAcquirer();
        // Port 1 on loopback is never served in the test environment.
        var location = PackageLocation.Parse("http://127.0.0.1:1/app.zip", false);

        var error = await Assert.ThrowsAsync<DeploymentException>(() => acquirer.AcquireAsync(location, null, null, CancellationToken.None));

        Assert.Equal(EngineErrorIds.PackageDownloadFailed, error.ErrorId);
        Assert.Equal(DeploymentErrorKind.ConnectionError, error.Kind);
    }
}
