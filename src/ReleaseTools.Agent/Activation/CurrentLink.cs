using System.ComponentModel;
using System.Runtime.InteropServices;
using ReleaseTools.Agent.Storage;

namespace ReleaseTools.Agent.Activation;

/// <summary>
/// The <c>current</c> link of a service directory, pointing at the active release directory.
/// On Unix it is a relative symbolic link replaced by rename(2): a new link is made under a temporary name and renamed
/// over <c>current</c>, so a reader always finds either the old target or the new one, never no link.
/// On Windows a directory link cannot be renamed over another, so it is removed and created again; a crash between
/// the two leaves no <c>current</c>, which the agent repairs from its active-release record when it starts.
/// </summary>
public static partial class CurrentLink
{
    public const string Name = "current";

    /// <summary>The release directory name <c>current</c> points at, or null when there is no link.</summary>
    public static string? Read(string serviceDirectory)
    {
        var link = new DirectoryInfo(Path.Combine(serviceDirectory, Name));
        var target = link.LinkTarget;
        return target == null ? null : Path.GetFileName(Path.TrimEndingDirectorySeparator(target));
    }

    /// <summary>Points <c>current</c> at <c>releases/&lt;releaseName&gt;</c>.</summary>
    public static void Switch(string serviceDirectory, string releaseName)
    {
        var link = Path.Combine(serviceDirectory, Name);
        var relativeTarget = Path.Combine(ReleaseLayout.ReleasesFolder, releaseName);
        if (OperatingSystem.IsWindows())
        {
            if (Directory.Exists(link) || File.Exists(link))
            {
                Directory.Delete(link);
            }

            Directory.CreateSymbolicLink(link, Path.Combine(serviceDirectory, relativeTarget));
            return;
        }

        var temporary = Path.Combine(serviceDirectory, $".{Name}.{Guid.NewGuid():N}.tmp");
        File.CreateSymbolicLink(temporary, relativeTarget);
        if (Rename(temporary, link) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            File.Delete(temporary);
            throw new IOException($"Could not switch '{link}' to {relativeTarget}: {new Win32Exception(error).Message}");
        }

        // The rename itself made durable: without it a power cut could bring the old link back after the agent answered.
        DurableFiles.FlushDirectory(serviceDirectory);
    }

    /// <summary>Removes <c>current</c> (a first release that failed leaves the service with none).</summary>
    public static void Remove(string serviceDirectory)
    {
        var link = Path.Combine(serviceDirectory, Name);
        if (new FileInfo(link).LinkTarget != null)
        {
            File.Delete(link);
        }
    }

    /// <summary>Source-generated marshalling (not DllImport's runtime stub), so the published agent has it precompiled.</summary>
    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Rename(string oldPath, string newPath);
}
