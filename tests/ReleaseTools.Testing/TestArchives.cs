using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace ReleaseTools.Testing;

public enum ArchiveEntryKind
{
    File,
    Directory,
    SymbolicLink,
    HardLink,
    CharacterDevice,
}

/// <summary>One entry of a test archive, written exactly as given (names are not cleaned: that is the point).</summary>
public sealed record ArchiveEntry(string Name, ArchiveEntryKind Kind = ArchiveEntryKind.File, byte[]? Content = null, string? LinkTarget = null, int Mode = 0b110_100_100)
{
    public static ArchiveEntry Text(string name, string text, int mode = 0b110_100_100) => new(name, ArchiveEntryKind.File, Encoding.UTF8.GetBytes(text), Mode: mode);

    public static ArchiveEntry Folder(string name) => new(name, ArchiveEntryKind.Directory, Mode: 0b111_101_101);

    public static ArchiveEntry Link(string name, string target) => new(name, ArchiveEntryKind.SymbolicLink, LinkTarget: target, Mode: 0b111_111_111);

    public static ArchiveEntry Hard(string name, string target) => new(name, ArchiveEntryKind.HardLink, LinkTarget: target);

    public static ArchiveEntry Device(string name) => new(name, ArchiveEntryKind.CharacterDevice);
}

/// <summary>Real .zip and .tar.gz packages built in tests, including the malicious shapes an agent must refuse.</summary>
public static class TestArchives
{
    public static string Zip(string path, params ArchiveEntry[] entries)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var archive = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var entry in entries)
        {
            var name = entry.Kind == ArchiveEntryKind.Directory && !entry.Name.EndsWith('/') ? entry.Name + "/" : entry.Name;
            var zipEntry = archive.CreateEntry(name, CompressionLevel.Fastest);
            var type = entry.Kind switch
            {
                ArchiveEntryKind.Directory => 0x4000,
                ArchiveEntryKind.SymbolicLink => 0xA000,
                ArchiveEntryKind.CharacterDevice => 0x2000,
                _ => 0x8000,
            };
            zipEntry.ExternalAttributes = (type | entry.Mode) << 16;
            if (entry.Kind == ArchiveEntryKind.Directory)
            {
                continue;
            }

            using var stream = zipEntry.Open();
            stream.Write(entry.Kind == ArchiveEntryKind.SymbolicLink ? Encoding.UTF8.GetBytes(entry.LinkTarget!) : entry.Content ?? Array.Empty<byte>());
        }

        return path;
    }

    public static string TarGz(string path, params ArchiveEntry[] entries)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var writer = new TarWriter(gzip, TarEntryFormat.Pax);
        foreach (var entry in entries)
        {
            var type = entry.Kind switch
            {
                ArchiveEntryKind.Directory => TarEntryType.Directory,
                ArchiveEntryKind.SymbolicLink => TarEntryType.SymbolicLink,
                ArchiveEntryKind.HardLink => TarEntryType.HardLink,
                ArchiveEntryKind.CharacterDevice => TarEntryType.CharacterDevice,
                _ => TarEntryType.RegularFile,
            };
            var tarEntry = new PaxTarEntry(type, entry.Name) { Mode = (UnixFileMode)entry.Mode };
            if (entry.LinkTarget != null)
            {
                tarEntry.LinkName = entry.LinkTarget;
            }

            if (type == TarEntryType.RegularFile)
            {
                tarEntry.DataStream = new MemoryStream(entry.Content ?? Array.Empty<byte>());
            }

            writer.WriteEntry(tarEntry);
        }

        return path;
    }

    /// <summary>
    /// A tar.gz holding one file of <paramref name="bytes"/> zero bytes, then <paramref name="emptyFilesAfter"/> empty files:
    /// tiny on the wire, big when unpacked.
    /// </summary>
    public static string ZeroFilledTarGz(string path, string entryName, long bytes, int emptyFilesAfter = 0)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var writer = new TarWriter(gzip, TarEntryFormat.Pax);
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, entryName) { DataStream = new ZeroStream(bytes) });
        // Files cost little to send and a file creation each to unpack: they make the unpacking long on any machine.
        for (var i = 0; i < emptyFilesAfter; i++)
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"empty/{i:D6}"));
        }

        return path;
    }

    private sealed class ZeroStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => _position = value; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            Array.Clear(buffer, offset, n);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
