using ReleaseTools.Engine.Packages;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Packages;

/// <summary>The package cache stays bounded: what no run used for a month goes, what a run uses stays.</summary>
public sealed class PackageCacheTrimTests : IAsyncLifetime
{
    private static readonly DateTime Now = new(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);
    private readonly TempDirectory _temp = new("package-cache-trim");
    private PackageServer _server = null!;

    public async Task InitializeAsync() => _server = await PackageServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _temp.Dispose();
    }

    private string Root => Path.Combine(_temp.Path, "cache");

    private PackageAcquirer NewAcquirer() => new(new PackageCache(Root), 1 << 20, TimeSpan.FromSeconds(30));

    private string CachedFile(string source, string name, TimeSpan age)
    {
        var directory = Directory.CreateDirectory(Path.Combine(Root, source)).FullName;
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, name);
        File.SetLastWriteTimeUtc(path, Now - age);
        return path;
    }

    [Fact]
    public void Packages_unused_for_a_month_and_day_old_temporary_files_go_and_everything_else_stays()
    {
        var old = CachedFile("a", "0123456789abcdef0123456789abcdef.pkg", TimeSpan.FromDays(31));
        var recent = CachedFile("a", "fedcba9876543210fedcba9876543210.pkg", TimeSpan.FromDays(29));
        var leftover = CachedFile("a", "6d1c.partial", TimeSpan.FromDays(2));
        var downloading = CachedFile("a", "77aa.partial", TimeSpan.FromMinutes(5));
        var onlyOld = CachedFile("b", "00000000000000000000000000000000.pkg", TimeSpan.FromDays(400));
        var validators = CachedFile("b", "validators.json", TimeSpan.FromDays(400));
        var emptyForDays = Directory.CreateDirectory(Path.Combine(Root, "c")).FullName;
        Directory.SetLastWriteTimeUtc(emptyForDays, Now - TimeSpan.FromDays(3));
        var justCreated = Directory.CreateDirectory(Path.Combine(Root, "d")).FullName;
        Directory.SetLastWriteTimeUtc(justCreated, Now - TimeSpan.FromMinutes(1));
        var cache = new PackageCache(Root);

        var removed = cache.Trim(Now);

        Assert.Equal(2, removed);
        Assert.False(File.Exists(old));
        Assert.True(File.Exists(recent));
        Assert.False(File.Exists(leftover));
        Assert.True(File.Exists(downloading));
        Assert.False(File.Exists(onlyOld));
        Assert.False(File.Exists(validators));
        // A folder empty for days goes; one a run may have just made for a download stays, and so does the one emptied now.
        Assert.False(Directory.Exists(emptyForDays));
        Assert.True(Directory.Exists(justCreated));
        Assert.True(Directory.Exists(Path.Combine(Root, "b")));
        Assert.True(Directory.Exists(Path.Combine(Root, "a")));
    }

    [Fact]
    public void The_cache_is_walked_at_most_once_a_day_whichever_process_asks()
    {
        var cache = new PackageCache(Root);
        CachedFile("a", "0123456789abcdef0123456789abcdef.pkg", TimeSpan.FromDays(40));
        Assert.Equal(1, cache.TrimIfDue(Now));

        var later = CachedFile("a", "fedcba9876543210fedcba9876543210.pkg", TimeSpan.FromDays(40));
        // A second process an hour later finds the marker fresh and leaves the cache alone.
        Assert.Equal(0, new PackageCache(Root).TrimIfDue(Now + TimeSpan.FromHours(1)));
        Assert.True(File.Exists(later));

        Assert.Equal(1, new PackageCache(Root).TrimIfDue(Now + TimeSpan.FromHours(25)));
        Assert.False(File.Exists(later));
    }

    [Fact]
    public void A_missing_cache_folder_is_nothing_to_trim()
    {
        Assert.Equal(0, new PackageCache(Path.Combine(_temp.Path, "never-used")).Trim(Now));
    }

    [Fact]
    public async Task A_package_a_run_takes_from_the_cache_is_marked_used_and_survives_the_next_trim()
    {
        var content = PackageServer.RandomBytes(50_000, 11);
        var url = _server.Add("kept.zip", content);
        using var acquirer = NewAcquirer();
        var first = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), null, null, CancellationToken.None);
        File.SetLastWriteTimeUtc(first.FilePath, DateTime.UtcNow - TimeSpan.FromDays(40));

        var again = await acquirer.AcquireAsync(PackageLocation.Parse(url, false), first.Md5, null, CancellationToken.None);

        Assert.True(again.FromCache);
        Assert.True(DateTime.UtcNow - File.GetLastWriteTimeUtc(again.FilePath) < TimeSpan.FromMinutes(5));
        Assert.Equal(0, acquirer.Cache.Trim(DateTime.UtcNow));
        Assert.Equal(content, await File.ReadAllBytesAsync(again.FilePath));
    }

    [Fact]
    public async Task A_new_download_trims_packages_no_run_used_for_a_month_and_a_rollback_fetches_one_again()
    {
        var oldContent = PackageServer.RandomBytes(40_000, 12);
        var oldUrl = _server.Add("web-1.0.zip", oldContent);
        using var acquirer = NewAcquirer();
        var old = await acquirer.AcquireAsync(PackageLocation.Parse(oldUrl, false), null, null, CancellationToken.None);
        File.SetLastWriteTimeUtc(old.FilePath, DateTime.UtcNow - TimeSpan.FromDays(45));
        // As if the last trim ran two days ago.
        File.SetLastWriteTimeUtc(Path.Combine(Root, "trimmed"), DateTime.UtcNow - TimeSpan.FromDays(2));

        await acquirer.AcquireAsync(PackageLocation.Parse(_server.Add("web-1.1.zip", PackageServer.RandomBytes(40_000, 13)), false), null, null,
            CancellationToken.None);

        Assert.False(File.Exists(old.FilePath));
        var fetchedAgain = await acquirer.AcquireAsync(PackageLocation.Parse(oldUrl, false), old.Md5, null, CancellationToken.None);
        Assert.False(fetchedAgain.FromCache);
        Assert.Equal(oldContent, await File.ReadAllBytesAsync(fetchedAgain.FilePath));
        Assert.Equal(2, _server.Gets("web-1.0.zip"));
    }
}
