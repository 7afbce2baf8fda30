using Microsoft.Win32.SafeHandles;

namespace ReleaseTools.Agent.Storage;

/// <summary>
/// The flushes that make what the agent wrote survive a power cut. A file's bytes are on disk once the file is flushed;
/// a new name (a rename, a new file or link) only once its directory is flushed too: the file system may otherwise
/// bring back the old name after the agent answered.
/// </summary>
public static class DurableFiles
{
    /// <summary>Flushes a file that is already closed (a file of an unpacked release, read-only ones included).</summary>
    public static void FlushFile(string path)
    {
        // Read access is enough for fsync(2) on Unix; Windows flushes only a file open for writing.
        if (OperatingSystem.IsWindows() && File.GetAttributes(path).HasFlag(FileAttributes.ReadOnly))
        {
            // Windows will not open a read-only file for writing: it is left to the file system's own flushing.
            return;
        }

        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, OperatingSystem.IsWindows() ? FileAccess.Write : FileAccess.Read);
        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>Puts a directory's entries on disk: a rename or a new file or link in it survives a power cut once this returns.</summary>
    public static void FlushDirectory(string directory)
    {
        // Windows cannot open a directory this way, and its file system records renames in its own log.
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            using SafeFileHandle handle = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(handle);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            // Some file systems cannot open or flush a directory; the rename itself is still atomic. A missing directory
            // is the caller's mistake and is not hidden.
        }
    }
}
