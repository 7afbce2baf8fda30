using System.Buffers.Binary;

namespace ReleaseTools.Benchmarks.Scenarios.StoreScale;

/// <summary>
/// Watches a SQLite store's write-ahead log from outside, by reading the WAL index header in its <c>-shm</c> file
/// (https://www.sqlite.org/walformat.html): the frames in the log, the frames already copied back into the database
/// (nBackfill) and the salt that changes whenever a writer restarts the log from its beginning. Each read compares with
/// the one before, so reading before and after a store call says whether that call checkpointed, and how many pages it
/// copied. It never writes, locks or opens the database itself.
/// </summary>
public sealed class SqliteWalObserver
{
    private const int HeaderBytes = 136;
    private readonly string _shmPath;
    private readonly string _walPath;
    private readonly byte[] _buffer = new byte[HeaderBytes];
    private uint _salt;
    private uint _attempted;
    private bool _seen;

    public SqliteWalObserver(string databasePath)
    {
        _shmPath = databasePath + "-shm";
        _walPath = databasePath + "-wal";
    }

    /// <summary>Checkpoints that copied pages, seen so far.</summary>
    public long Checkpoints { get; private set; }

    /// <summary>Times a writer started the log again from its beginning after a complete checkpoint.</summary>
    public long Restarts { get; private set; }

    /// <summary>WAL frames (pages) copied back into the database file by the checkpoints seen.</summary>
    public long PagesCheckpointed { get; private set; }

    /// <summary>The most frames the log held at once (SQLite's own checkpoint runs inside a commit that passes its threshold).</summary>
    public long LargestWalFrames { get; private set; }

    /// <summary>The largest -wal file seen, in bytes.</summary>
    public long LargestWalBytes { get; private set; }

    /// <summary>Reads the header and returns <see cref="Checkpoints"/>: what <c>LatencyRecorder.Watch</c> takes.</summary>
    public long Read()
    {
        if (!TryReadHeader())
        {
            return Checkpoints;
        }

        // WalIndexHdr: mxFrame at 16, aSalt[0] at 32; WalCkptInfo at 96: nBackfill, ..., nBackfillAttempted at 128. Native byte order.
        var salt = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(32));
        LargestWalFrames = Math.Max(LargestWalFrames, BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(16)));
        var attempted = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(128));
        if (_seen)
        {
            if (salt == _salt)
            {
                if (attempted > _attempted)
                {
                    Checkpoints++;
                    PagesCheckpointed += attempted - _attempted;
                }
            }
            else
            {
                Restarts++;
                if (attempted > 0)
                {
                    Checkpoints++;
                    PagesCheckpointed += attempted;
                }
            }
        }

        _seen = true;
        _salt = salt;
        _attempted = attempted;
        try
        {
            LargestWalBytes = Math.Max(LargestWalBytes, new FileInfo(_walPath).Length);
        }
        catch (IOException)
        {
        }

        return Checkpoints;
    }

    private bool TryReadHeader()
    {
        try
        {
            using var shm = new FileStream(_shmPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            return shm.Read(_buffer, 0, HeaderBytes) == HeaderBytes;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
