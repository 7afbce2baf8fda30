using ReleaseTools.Agent.Storage;

namespace ReleaseTools.Agent.Activation;

/// <summary>
/// Puts an unpacked release on disk before it can become <c>current</c>. Unpacked files are written through the page
/// cache; without a flush a power cut after the agent answered could leave the switched link pointing at empty or torn
/// files (a file system with delayed allocation keeps a new file's blocks unwritten for up to half a minute). The
/// extractor starts every file's writes as soon as the file is complete (<see cref="EarlyWriteback"/>), so this
/// pass mostly waits for writes already under way, then flushes the directories, so their entries are on disk too.
/// Links are not followed: a link's target may be outside the release, and the link itself is a directory entry.
/// </summary>
public static class ReleaseFlush
{
    /// <summary>Flushes every regular file and directory under <paramref name="root"/> (itself included); returns how many files.</summary>
    public static int FlushTree(string root)
    {
        var files = 0;
        var directories = new Stack<DirectoryInfo>();
        var visited = new List<DirectoryInfo>();
        directories.Push(new DirectoryInfo(root));
        while (directories.Count > 0)
        {
            var directory = directories.Pop();
            visited.Add(directory);
            foreach (var entry in directory.EnumerateFileSystemInfos("*", Everything))
            {
                if (entry.LinkTarget != null)
                {
                    continue;
                }

                if (entry is DirectoryInfo child)
                {
                    directories.Push(child);
                }
                else
                {
                    DurableFiles.FlushFile(entry.FullName);
                    files++;
                }
            }
        }

        // Deepest first, so each directory is flushed after the entries of those inside it.
        for (var i = visited.Count - 1; i >= 0; i--)
        {
            DurableFiles.FlushDirectory(visited[i].FullName);
        }

        return files;
    }

    /// <summary>Dot-files and hidden files too (the default options skip them); one level at a time, links not entered.</summary>
    private static readonly EnumerationOptions Everything = new()
    {
        AttributesToSkip = 0,
        IgnoreInaccessible = false,
        RecurseSubdirectories = false,
        ReturnSpecialDirectories = false,
    };
}
