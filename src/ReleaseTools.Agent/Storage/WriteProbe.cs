namespace ReleaseTools.Agent.Storage;

/// <summary>
/// Proves at start that the agent can write where deployments will write: a small file is created, written, flushed
/// to disk and removed. A folder the agent's user cannot write (a data directory first created by root, a service
/// directory nobody gave the agent) or a file system that is full or read-only is then found when the agent starts,
/// with the folder named, instead of by the first deployment. The probe's name is dot-prefixed and ends in
/// <c>.tmp</c>, like every temporary file of the agent, so a probe a killed agent left in its data directory is
/// removed at the next start.
/// </summary>
public static class WriteProbe
{
    /// <summary>Null when <paramref name="directory"/> (an existing directory) can be written; otherwise why not.</summary>
    public static string? Check(string directory)
    {
        var probe = Path.Combine(directory, $".write-probe.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1))
            {
                stream.WriteByte(0);
                stream.Flush(flushToDisk: true);
            }

            File.Delete(probe);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(probe);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // The probe could not be made or cannot be removed; the reason reported is the first failure.
            }

            return ex.Message;
        }
    }

    /// <summary>
    /// For a directory the agent creates when it first needs it: the directory itself if it exists, else the nearest
    /// existing folder above it, where the agent will create it. Null when that can be written; otherwise why not.
    /// </summary>
    public static string? CheckCreatable(string directory)
    {
        var existing = Path.GetFullPath(directory);
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing))
            {
                return $"'{existing}' is a file, not a directory";
            }

            var parent = Path.GetDirectoryName(existing);
            if (parent == null)
            {
                return $"no folder of '{directory}' exists";
            }

            existing = parent;
        }

        return Check(existing) is { } reason ? $"'{existing}' cannot be written: {reason}" : null;
    }
}
