using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Storage;

/// <summary>
/// The agent never follows a symbolic link out of its data directory when it writes or cleans: a linked <c>tmp/</c>
/// would have start-up cleanup delete files elsewhere, and a linked service directory would have pushes write there.
/// (A service's configured <c>directory</c> may be anywhere: that is the operator's choice, not a link found on disk.)
/// </summary>
public static class NoLinks
{
    /// <summary>At start: the agent's own folders must be real directories.</summary>
    public static void RequireDirectory(string path)
    {
        if (IsLink(path))
        {
            throw new InvalidOperationException(
                $"'{path}' is a symbolic link; the agent does not follow links out of its data directory. Replace it with a directory (or point --data-dir at the real location).");
        }
    }

    /// <summary>Before a service's files are written or removed under the data directory.</summary>
    public static string RequireServiceDirectory(string path)
    {
        if (IsLink(path))
        {
            throw new FloydRejection(StatusCodes.Status409Conflict, FloydErrorCodes.DataDirectoryUnsafe,
                $"The service directory '{Path.GetFileName(path)}' in the agent's data directory is a symbolic link; the agent does not write through links. The agent's operator must replace it with a directory, or configure the service's 'directory'.");
        }

        return path;
    }

    /// <summary>Directories of <paramref name="parent"/> that are real directories, not links (enumerations skip the others).</summary>
    public static IEnumerable<string> RealDirectories(string parent) => Directory.EnumerateDirectories(parent).Where(d => !IsLink(d));

    private static bool IsLink(string path) => (File.Exists(path) || Directory.Exists(path)) && new FileInfo(path).LinkTarget != null;
}
