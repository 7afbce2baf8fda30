using ReleaseTools.Agent.Activation;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent.Activation;

/// <summary>Real archives unpacked into a real directory; the refusals must leave nothing outside it.</summary>
public sealed class PackageExtractorTests : IDisposable
{
    private readonly TempDirectory _temp = new("floyd-unpack");

    private string Destination => _temp.CreateDirectory("release");

    [Fact]
    public async Task Zip_and_tar_gz_unpack_files_directories_modes_and_inside_links()
    {
        var entries = new[]
        {
            ArchiveEntry.Folder("bin"),
            ArchiveEntry.Text("bin/run.sh", "#!/bin/sh\necho run\n", mode: 0b111_101_101),
            ArchiveEntry.Text("VERSION", "1.0.0\n"),
            ArchiveEntry.Link("bin/version", "../VERSION"),
        };
        foreach (var package in new[] { TestArchives.Zip(_temp.Combine("app.zip"), entries), TestArchives.TarGz(_temp.Combine("app.tar.gz"), entries) })
        {
            var destination = _temp.CreateDirectory(Path.GetFileName(package) + "-out");
            var bytes = await PackageExtractor.ExtractAsync(package, Path.GetFileName(package), destination, 1 << 20, CancellationToken.None);

            Assert.Equal("1.0.0\n", File.ReadAllText(Path.Combine(destination, "VERSION")));
            Assert.Equal("1.0.0\n", File.ReadAllText(Path.Combine(destination, "bin", "version")));
            Assert.Equal(Path.Combine("..", "VERSION"), new FileInfo(Path.Combine(destination, "bin", "version")).LinkTarget);
            Assert.True(bytes > 0);
            if (!OperatingSystem.IsWindows())
            {
                Assert.True(File.GetUnixFileMode(Path.Combine(destination, "bin", "run.sh")).HasFlag(UnixFileMode.UserExecute), Path.GetFileName(package));
            }
        }
    }

    [Fact]
    public async Task A_file_that_is_not_an_archive_is_installed_as_it_is_under_its_name()
    {
        var package = _temp.WriteFile("tool-1.0.jar", "not an archive, a jar for all the agent knows");
        var destination = Destination;

        await PackageExtractor.ExtractAsync(package, "tool-1.0.jar", destination, 1 << 20, CancellationToken.None);

        Assert.Equal("not an archive, a jar for all the agent knows", File.ReadAllText(Path.Combine(destination, "tool-1.0.jar")));
    }

    [Theory]
    [InlineData("zip", "../escaped.txt")]
    [InlineData("zip", "a/../../escaped.txt")]
    [InlineData("zip", "/tmp/absolute-escape.txt")]
    [InlineData("zip", "C:/Windows/escaped.txt")]
    [InlineData("zip", "..\\escaped.txt")]
    [InlineData("tar.gz", "../escaped.txt")]
    [InlineData("tar.gz", "/tmp/absolute-escape.txt")]
    public async Task Entries_escaping_the_release_directory_are_refused(string kind, string name)
    {
        var package = Build(kind, ArchiveEntry.Text("ok.txt", "fine"), ArchiveEntry.Text(name, "escaped"));

        var refusal = await RefusedAsync(package);

        Assert.Equal(FloydErrorCodes.PackageUnsafe, refusal.ErrorCode);
        Assert.Contains(name.Replace('\\', '/').Split('/').Last(), refusal.Message);
        AssertNothingEscaped();
    }

    [Theory]
    [InlineData("zip", "../../outside")]
    [InlineData("zip", "/etc")]
    [InlineData("tar.gz", "../../outside")]
    [InlineData("tar.gz", "/etc")]
    [InlineData("tar.gz", "sub/../../../x")]
    public async Task Links_pointing_outside_are_refused(string kind, string target)
    {
        var package = Build(kind, ArchiveEntry.Folder("sub"), ArchiveEntry.Link("sub/escape", target), ArchiveEntry.Text("sub/escape/passwd", "owned"));

        var refusal = await RefusedAsync(package);

        Assert.Equal(FloydErrorCodes.PackageUnsafe, refusal.ErrorCode);
        Assert.Contains("outside the release directory", refusal.Message);
        AssertNothingEscaped();
    }

    [Fact]
    public async Task A_tar_hard_link_to_a_file_outside_is_refused()
    {
        var outside = _temp.WriteFile("secret.txt", "secret");
        var package = Build("tar.gz", ArchiveEntry.Hard("copy", outside));

        var refusal = await RefusedAsync(package);

        Assert.Equal(FloydErrorCodes.PackageUnsafe, refusal.ErrorCode);
        Assert.Equal("secret", File.ReadAllText(outside));
    }

    [Fact]
    public async Task A_tar_hard_link_to_an_earlier_entry_is_installed_as_a_copy()
    {
        var package = Build("tar.gz", ArchiveEntry.Text("a.txt", "same"), ArchiveEntry.Hard("b.txt", "a.txt"));
        var destination = Destination;

        await PackageExtractor.ExtractAsync(package, Path.GetFileName(package), destination, 1 << 20, CancellationToken.None);

        Assert.Equal("same", File.ReadAllText(Path.Combine(destination, "b.txt")));
    }

    [Fact]
    public async Task Writing_through_an_inside_link_is_refused()
    {
        // The link itself stays inside, but a later entry must not be written through it.
        var package = Build("tar.gz", ArchiveEntry.Folder("data"), ArchiveEntry.Link("alias", "data"), ArchiveEntry.Text("alias/file", "x"));

        var refusal = await RefusedAsync(package);

        Assert.Equal(FloydErrorCodes.PackageUnsafe, refusal.ErrorCode);
        Assert.Contains("through", refusal.Message);
    }

    [Theory]
    [InlineData("zip")]
    [InlineData("tar.gz")]
    public async Task Device_files_are_refused(string kind)
    {
        var refusal = await RefusedAsync(Build(kind, ArchiveEntry.Device("dev/null-ish")));

        Assert.Equal(FloydErrorCodes.PackageUnsafe, refusal.ErrorCode);
    }

    [Theory]
    [InlineData("zip", "config.txt", "config.txt")]
    [InlineData("zip", "Config.txt", "config.txt")]
    [InlineData("tar.gz", "config.txt", "./config.txt")]
    public async Task Duplicate_entries_are_refused(string kind, string first, string second)
    {
        var refusal = await RefusedAsync(Build(kind, ArchiveEntry.Text(first, "one"), ArchiveEntry.Text(second, "two")));

        Assert.Equal(FloydErrorCodes.PackageUnsafe, refusal.ErrorCode);
        Assert.Contains("twice", refusal.Message);
    }

    [Theory]
    [InlineData("zip")]
    [InlineData("tar.gz")]
    public async Task An_archive_expanding_beyond_the_limit_is_refused(string kind)
    {
        var big = new byte[300_000];
        var refusal = await RefusedAsync(Build(kind, new ArchiveEntry("a.bin", Content: big), new ArchiveEntry("b.bin", Content: big)), maxBytes: 500_000);

        Assert.Equal(FloydErrorCodes.PackageTooLarge, refusal.ErrorCode);
        Assert.Contains("500000", refusal.Message);
    }

    [Fact]
    public async Task An_archive_with_the_name_of_a_zip_but_other_bytes_is_refused_as_invalid()
    {
        var package = _temp.WriteFile("app.zip", "this is not a zip");

        var refusal = await RefusedAsync(package);

        Assert.Equal(FloydErrorCodes.PackageInvalid, refusal.ErrorCode);
    }

    private string Build(string kind, params ArchiveEntry[] entries) => kind == "zip"
        ? TestArchives.Zip(_temp.Combine("pkg", $"app-{Guid.NewGuid():N}.zip"), entries)
        : TestArchives.TarGz(_temp.Combine("pkg", $"app-{Guid.NewGuid():N}.tar.gz"), entries);

    private async Task<UnpackRefusedException> RefusedAsync(string package, long maxBytes = 1 << 20) =>
        await Assert.ThrowsAsync<UnpackRefusedException>(() =>
            PackageExtractor.ExtractAsync(package, Path.GetFileName(package), Destination, maxBytes, CancellationToken.None));

    /// <summary>Nothing but the release directory, the packages and (for one test) the planted secret exists in the temp root, and nothing in /tmp by the test's names.</summary>
    private void AssertNothingEscaped()
    {
        var unexpected = Directory.EnumerateFileSystemEntries(_temp.Path)
            .Select(Path.GetFileName)
            .Where(n => n is not ("release" or "pkg"))
            .ToList();
        Assert.Empty(unexpected);
        Assert.False(File.Exists("/tmp/absolute-escape.txt"));
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "escaped.txt")));
    }

    public void Dispose() => _temp.Dispose();
}
