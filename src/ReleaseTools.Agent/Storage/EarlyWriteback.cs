using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ReleaseTools.Agent.Storage;

/// <summary>
/// Starts the disk writes of a large incoming file while it is still arriving, so the flush that must come before the
/// agent answers finds little left to write. Without it the kernel keeps a whole package in dirty pages (its background
/// writeback waits for a share of memory far larger than a package), and every push pays its whole write to disk after
/// its last byte, all at once when many pushes arrive together. On Linux this is sync_file_range(2) with
/// SYNC_FILE_RANGE_WRITE, which queues the writes and waits for none of them (dpkg unpacks files the same way);
/// elsewhere the final flush does all the work, as before. It changes when bytes reach the disk, never whether: the
/// flush at the end is still what makes the file durable.
/// </summary>
public sealed partial class EarlyWriteback
{
    /// <summary>Large enough that the calls cost nothing against the bytes, small enough to start writing early.</summary>
    public const long StepBytes = 8L * 1024 * 1024;

    private const uint SyncFileRangeWrite = 2;

    private readonly Func<long, long, bool>? _startWrite;
    private long _started;
    private bool _refused;

    /// <param name="startWrite">Queues the writes of a byte range (offset, length); false when the file system refuses.</param>
    public EarlyWriteback(Func<long, long, bool>? startWrite)
    {
        _startWrite = startWrite;
    }

    /// <summary>Whether writes are still started early (false off Linux, or once the file system refused).</summary>
    public bool Active => _startWrite != null && !_refused;

    public static EarlyWriteback For(FileStream file) =>
        new(OperatingSystem.IsLinux() ? (offset, length) => StartWrite(file.SafeFileHandle, offset, length) : null);

    /// <summary>Starts the writes of everything written to a file that is complete (an unpacked file before it is closed).</summary>
    public static void StartAll(FileStream file)
    {
        if (OperatingSystem.IsLinux())
        {
            file.Flush(flushToDisk: false);
            // Length 0: to the end of the file. A refusal only loses the head start.
            StartWrite(file.SafeFileHandle, 0, 0);
        }
    }

    /// <summary>The file's first <paramref name="written"/> bytes have been written (not flushed) to it.</summary>
    public void Written(long written)
    {
        if (!Active || written - _started < StepBytes)
        {
            return;
        }

        if (!_startWrite!(_started, written - _started))
        {
            // Only the head start is lost: the final flush writes what is left.
            _refused = true;
            return;
        }

        _started = written;
    }

    private static bool StartWrite(SafeFileHandle file, long offset, long length)
    {
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            return SyncFileRange(file.DangerousGetHandle().ToInt32(), offset, length, SyncFileRangeWrite) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>Source-generated marshalling (not DllImport's runtime stub), so the published agent has it precompiled.</summary>
    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long length, uint flags);
}
