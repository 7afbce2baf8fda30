using System.Diagnostics;

namespace ReleaseTools.Testing;

/// <summary>
/// A small size-limited file system (a tmpfs) mounted at a folder for a test, which a test can fill to the last byte and
/// make read-only: the disk a store runs out of. Mounting needs root (CI has it); <see cref="NotMounted"/> says why
/// when it could not be mounted, and the test skips with that reason.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    public SmallDisk(string path, int megabytes = 4)
    {
        Path = path;
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsLinux())
        {
            NotMounted = "a size-limited file system is mounted with Linux's tmpfs";
            return;
        }

        var (exitCode, output) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        NotMounted = exitCode == 0 ? null : $"'mount -t tmpfs' failed (it needs root): {output.Trim()}";
    }

    public string Path { get; }

    /// <summary>Null when mounted; else why not.</summary>
    public string? NotMounted { get; }

    /// <summary>Writes a filler file until the file system refuses another byte; returns it (delete it to give the space back).</summary>
    public string Fill()
    {
        var filler = System.IO.Path.Combine(Path, "filler-" + Guid.NewGuid().ToString("N") + ".bin");
        var chunk = new byte[4096];
        using var stream = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true)
            {
                stream.Write(chunk);
                stream.Flush();
            }
        }
        catch (IOException)
        {
            // ENOSPC: the disk is full.
        }

        return filler;
    }

    /// <summary>Remounts the file system read-only (true) or writable again (false).</summary>
    public void SetReadOnly(bool readOnly)
    {
        var (exitCode, output) = Run("mount", "-o", readOnly ? "remount,ro" : "remount,rw", Path);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"Could not remount {Path} {(readOnly ? "read-only" : "writable")}: {output}");
        }
    }

    /// <summary>Runs a program to its end (bounded to 30 s) and returns its exit code and output.</summary>
    public static (int ExitCode, string Output) Run(string program, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd() + error.GetAwaiter().GetResult();
            return process.WaitForExit(30_000) ? (process.ExitCode, output) : (-1, "timed out");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            return (-1, exception.Message);
        }
    }

    public void Dispose()
    {
        if (NotMounted is null)
        {
            Run("umount", "-l", Path);
        }
    }
}
