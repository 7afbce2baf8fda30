using ReleaseTools.Agent.Activation;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent.Activation;

/// <summary>The flush of an unpacked release before it becomes current: every file of it, nothing through a link.</summary>
public sealed class ReleaseFlushTests : IDisposable
{
    private readonly TempDirectory _temp = new("release-flush");

    [Fact]
    public async Task Every_unpacked_file_is_flushed_read_only_and_dot_files_included_and_links_are_not_followed()
    {
        var outside = _temp.CreateDirectory("outside");
        File.WriteAllText(Path.Combine(outside, "a.txt"), "not the release's");
        File.WriteAllText(Path.Combine(outside, "b.txt"), "not the release's either");
        var entries = new[]
        {
            ArchiveEntry.Folder("bin"),
            ArchiveEntry.Text("bin/run.sh", "#!/bin/sh\necho run\n", mode: 0b111_101_101),
            ArchiveEntry.Text("bin/lib/deep/settings.json", "{}"),
            ArchiveEntry.Text(".env", "A=1\n"),
            ArchiveEntry.Text("README", "read me\n", mode: 0b100_100_100),
            ArchiveEntry.Link("bin/readme", "../README"),
        };
        foreach (var package in new[] { TestArchives.Zip(_temp.Combine("app.zip"), entries), TestArchives.TarGz(_temp.Combine("app.tar.gz"), entries) })
        {
            var release = _temp.CreateDirectory(Path.GetFileName(package) + "-release");
            await PackageExtractor.ExtractAsync(package, Path.GetFileName(package), release, 1 << 20, CancellationToken.None);
            // A link to a directory outside the release (a service may make one at run time): its files are not the release's.
            Directory.CreateSymbolicLink(Path.Combine(release, "data"), outside);

            var flushed = ReleaseFlush.FlushTree(release);

            // run.sh, settings.json, .env and README: the two links and the two files behind "data" are not flushed.
            Assert.Equal(4, flushed);
        }
    }

    [Fact]
    public void An_empty_release_directory_has_nothing_to_flush_but_is_flushed_itself_without_error()
    {
        Assert.Equal(0, ReleaseFlush.FlushTree(_temp.CreateDirectory("empty")));
    }

    [Fact]
    public void A_missing_release_directory_is_an_error_not_a_silent_success()
    {
        Assert.Throws<DirectoryNotFoundException>(() => ReleaseFlush.FlushTree(_temp.Combine("never-unpacked")));
    }

    public void Dispose() => _temp.Dispose();
}
