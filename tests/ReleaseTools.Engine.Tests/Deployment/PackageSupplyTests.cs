using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>A run's package supply when a cached copy turns out damaged: one removal, one fetch, shared by every instance.</summary>
public sealed class PackageSupplyTests : IDisposable
{
    private readonly TempDirectory _temp = new("package-supply");

    private AcquiredPackage Cached(string name) =>
        new() { Source = "/builds/app.zip", FilePath = _temp.WriteFile(name, "bytes"), Md5 = "0123456789abcdef0123456789abcdef", Length = 5, FromCache = true };

    [Fact]
    public async Task Instances_failing_on_the_same_damaged_copy_share_one_removal_one_fetch_and_one_warning()
    {
        var damaged = Cached("damaged.pkg");
        var fresh = new AcquiredPackage { Source = damaged.Source, FilePath = _temp.WriteFile("fresh.pkg", "bytes"), Md5 = damaged.Md5, Length = 5 };
        var fetches = 0;
        var fetched = new TaskCompletionSource<AcquiredPackage>();
        var warnings = new List<string>();
        var supply = PackageSupply.Ready(damaged, _ =>
        {
            fetches++;
            return fetched.Task;
        }, warnings.Add);
        Assert.Same(damaged, await supply.GetAsync(CancellationToken.None));

        var first = supply.ReplaceDamagedAsync(damaged, CancellationToken.None);
        var second = supply.ReplaceDamagedAsync(damaged, CancellationToken.None);
        fetched.SetResult(fresh);

        Assert.Same(fresh, await first);
        Assert.Same(fresh, await second);
        Assert.Same(fresh, await supply.GetAsync(CancellationToken.None));
        Assert.Equal(1, fetches);
        Assert.False(File.Exists(damaged.FilePath));
        Assert.Single(warnings);
        Assert.Contains(damaged.FilePath, warnings[0]);
    }

    [Fact]
    public async Task Without_a_way_to_fetch_again_the_copy_is_left_alone_and_given_back()
    {
        var damaged = Cached("kept.pkg");
        var supply = PackageSupply.Ready(damaged);
        await supply.GetAsync(CancellationToken.None);

        Assert.Same(damaged, await supply.ReplaceDamagedAsync(damaged, CancellationToken.None));
        Assert.True(File.Exists(damaged.FilePath));
    }

    [Fact]
    public async Task A_failed_fetch_is_tried_again_by_the_next_instance()
    {
        var damaged = Cached("retry.pkg");
        var fresh = new AcquiredPackage { Source = damaged.Source, FilePath = _temp.WriteFile("retry-fresh.pkg", "bytes"), Md5 = damaged.Md5, Length = 5 };
        var attempts = 0;
        var supply = PackageSupply.Ready(damaged, _ => ++attempts == 1
            ? Task.FromException<AcquiredPackage>(new IOException("source unreachable"))
            : Task.FromResult(fresh));
        await supply.GetAsync(CancellationToken.None);

        await Assert.ThrowsAsync<IOException>(() => supply.ReplaceDamagedAsync(damaged, CancellationToken.None));
        Assert.Same(fresh, await supply.ReplaceDamagedAsync(damaged, CancellationToken.None));
        Assert.Equal(2, attempts);
    }

    public void Dispose() => _temp.Dispose();
}
