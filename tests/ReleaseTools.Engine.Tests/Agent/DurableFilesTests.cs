using ReleaseTools.Agent.Storage;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

public sealed class DurableFilesTests : IDisposable
{
    private readonly TempDirectory _temp = new("durable-files");

    [Fact]
    public void A_read_only_file_is_flushed_as_it_is_and_keeps_its_bytes_and_mode()
    {
        var path = _temp.WriteFile("read-only.txt", "kept");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        DurableFiles.FlushFile(path);

        Assert.Equal("kept", File.ReadAllText(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void A_directory_is_flushed_after_a_rename_in_it()
    {
        var directory = _temp.CreateDirectory("records");
        File.WriteAllText(Path.Combine(directory, ".active.json.tmp"), "{}");
        File.Move(Path.Combine(directory, ".active.json.tmp"), Path.Combine(directory, "active.json"));

        DurableFiles.FlushDirectory(directory);

        Assert.Equal(["active.json"], Directory.GetFiles(directory).Select(Path.GetFileName));
    }

    [Fact]
    public void A_missing_file_or_directory_is_an_error_not_a_silent_success()
    {
        Assert.Throws<FileNotFoundException>(() => DurableFiles.FlushFile(_temp.Combine("never-written.txt")));
        Assert.ThrowsAny<IOException>(() => DurableFiles.FlushDirectory(_temp.Combine("never-created")));
    }

    public void Dispose() => _temp.Dispose();
}
