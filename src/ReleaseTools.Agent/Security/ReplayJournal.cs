using System.Globalization;
using ReleaseTools.Agent.Storage;

namespace ReleaseTools.Agent.Security;

/// <summary>
/// The replay memory on disk (<c>&lt;dataDir&gt;/replay.log</c>), so a request accepted just before a restart is still
/// a replay just after it. One line per accepted signature: its expiry (UTC ticks) and a SHA-256 digest of it, never the
/// signature itself. Appended and flushed to disk before the request is acted on; rewritten without expired lines at
/// start and whenever it holds many more lines than live entries, so it stays bounded like the memory.
/// </summary>
public sealed class ReplayJournal : IDisposable
{
    public const string FileName = "replay.log";

    private readonly string _path;
    private readonly object _gate = new();
    private FileStream _stream;
    private long _lines;

    public ReplayJournal(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        _path = Path.Combine(dataDirectory, FileName);
        _stream = OpenForAppend();
        // A journal created just now is named on disk before the first request it remembers is answered.
        DurableFiles.FlushDirectory(dataDirectory);
    }

    /// <summary>The unexpired entries a previous run recorded (a torn last line from a crash is ignored).</summary>
    public IReadOnlyList<(string Digest, long ExpiresTicks)> ReadLive(DateTimeOffset now)
    {
        var live = new List<(string, long)>();
        lock (_gate)
        {
            _stream.Flush();
            using var reader = new StreamReader(new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
            string? line;
            while ((line = reader.ReadLine()) != null)
            {
                var space = line.IndexOf(' ');
                if (space > 0 && long.TryParse(line.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out var expires) &&
                    expires > now.UtcTicks && line.Length - space - 1 == 64)
                {
                    live.Add((line[(space + 1)..], expires));
                }
            }
        }

        return live;
    }

    public void Append(string digest, long expiresTicks)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(expiresTicks.ToString(CultureInfo.InvariantCulture) + " " + digest + "\n");
        lock (_gate)
        {
            _stream.Write(bytes);
            // On disk before the agent acts on the request: a crash right after must not forget it.
            _stream.Flush(flushToDisk: true);
            _lines++;
        }
    }

    /// <summary>Rewrites the file with only <paramref name="live"/> when it has grown well past them.</summary>
    public void CompactIfLarge(int liveCount, Func<IReadOnlyCollection<KeyValuePair<string, long>>> snapshot, bool force = false)
    {
        lock (_gate)
        {
            if (!force && _lines <= Math.Max(1024, 2L * liveCount))
            {
                return;
            }

            var live = snapshot();

            var temporary = Path.Combine(Path.GetDirectoryName(_path)!, "." + FileName + ".tmp");
            using (var writer = new StreamWriter(new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None)))
            {
                foreach (var (digest, expires) in live)
                {
                    writer.Write(expires.ToString(CultureInfo.InvariantCulture));
                    writer.Write(' ');
                    writer.Write(digest);
                    writer.Write('\n');
                }

                writer.Flush();
                ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
            }

            _stream.Dispose();
            File.Move(temporary, _path, overwrite: true);
            DurableFiles.FlushDirectory(Path.GetDirectoryName(_path)!);
            _stream = OpenForAppend();
            _lines = live.Count;
        }
    }

    private FileStream OpenForAppend() => new(_path, FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete);

    public void Dispose()
    {
        lock (_gate)
        {
            _stream.Dispose();
        }
    }
}
