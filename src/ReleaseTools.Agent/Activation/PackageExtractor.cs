using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Activation;

/// <summary>The three package kinds, told apart by the package's file name and confirmed by its first bytes.</summary>
public enum PackageKind
{
    Zip,
    TarGzip,
    SingleFile,
}

/// <summary>Why an extraction was refused: the protocol error code and a message naming the entry.</summary>
public sealed class UnpackRefusedException : Exception
{
    public UnpackRefusedException(string errorCode, string message)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    public string ErrorCode { get; }
}

/// <summary>
/// Unpacks a package into an empty staging directory, streamed (a zip is read entry by entry, a tar.gz through a
/// gzip stream), refusing anything that could write outside the directory: entries with <c>..</c>, absolute paths or
/// drive letters, links whose target resolves outside, writes through a link, device files and FIFOs, duplicate
/// entries, and more bytes in total than the limit (counted as they are written, whatever the headers claim).
/// The caller deletes the staging directory when this throws.
/// </summary>
public static partial class PackageExtractor
{
    private const UnixFileMode PermissionBits = (UnixFileMode)0x1FF; // rwxrwxrwx: never setuid, setgid or sticky from a package

    public static PackageKind KindOf(string fileName)
    {
        var name = fileName.ToLowerInvariant();
        if (name.EndsWith(".zip", StringComparison.Ordinal)) return PackageKind.Zip;
        if (name.EndsWith(".tar.gz", StringComparison.Ordinal) || name.EndsWith(".tgz", StringComparison.Ordinal)) return PackageKind.TarGzip;
        return PackageKind.SingleFile;
    }

    /// <param name="packagePath">The stored package bytes.</param>
    /// <param name="fileName">The package's file name as pushed: decides the kind, and names a single-file package.</param>
    public static async Task<long> ExtractAsync(string packagePath, string fileName, string destination, long maxBytes, CancellationToken cancellationToken)
    {
        var kind = KindOf(fileName);
        var budget = new ByteBudget(maxBytes);
        if (kind == PackageKind.SingleFile)
        {
            return InstallSingleFile(packagePath, Path.Combine(destination, fileName), fileName, budget);
        }

        await using var input = new FileStream(packagePath, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
        if (kind == PackageKind.Zip)
        {
            RequireMagic(input, fileName, "zip", 0x50, 0x4B);
            await ExtractZipAsync(input, destination, budget, cancellationToken);
        }
        else
        {
            RequireMagic(input, fileName, "gzip", 0x1F, 0x8B);
            await ExtractTarGzipAsync(input, destination, budget, cancellationToken);
        }

        return budget.Used;
    }

    /// <summary>
    /// A package that is not an archive is installed as it is. Where the release directory is on the file system of
    /// the package store (the default layout), the installed file is a hard link to the stored bytes: the package was
    /// written once, when it was received, instead of a second time here. Both names then share one file, so it is made
    /// read-only first: a service that changes its installed file must replace it (write a new file, rename it over),
    /// which leaves the stored bytes alone. Elsewhere (another file system, Windows) the file is copied, by the kernel.
    /// </summary>
    private static long InstallSingleFile(string packagePath, string target, string fileName, ByteBudget budget)
    {
        var length = new FileInfo(packagePath).Length;
        if (length > budget.Limit)
        {
            throw budget.Exceeded($"'{Printable(fileName)}'");
        }

        if (OperatingSystem.IsWindows() || !TryHardLink(packagePath, target))
        {
            File.Copy(packagePath, target);
        }

        return length;
    }

    private const UnixFileMode WriteBits = UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    [UnsupportedOSPlatform("windows")]
    private static bool TryHardLink(string existing, string link)
    {
        try
        {
            var mode = File.GetUnixFileMode(existing);
            if ((mode & WriteBits) != 0)
            {
                File.SetUnixFileMode(existing, mode & ~WriteBits);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        // EXDEV (another file system), EPERM or ENOTSUP (one without hard links), EMLINK: copied instead. link(2) never
        // follows a link at the new name; the staging directory is new and empty anyway.
        return Link(existing, link) == 0;
    }

    /// <summary>Source-generated marshalling (not DllImport's runtime stub), so the published agent has it precompiled.</summary>
    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string link);

    private static void RequireMagic(FileStream input, string fileName, string what, byte first, byte second)
    {
        Span<byte> head = stackalloc byte[2];
        var read = input.Read(head);
        input.Position = 0;
        if (read < 2 || head[0] != first || head[1] != second)
        {
            throw new UnpackRefusedException(FloydErrorCodes.PackageInvalid,
                $"The package '{fileName}' is named like a {what} archive but is not one; build it again or give it a name without that extension to install it as a single file.");
        }
    }

    private static async Task ExtractZipAsync(Stream input, string destination, ByteBudget budget, CancellationToken cancellationToken)
    {
        ZipArchive archive;
        try
        {
            archive = new ZipArchive(input, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException ex)
        {
            throw new UnpackRefusedException(FloydErrorCodes.PackageInvalid, $"The zip package cannot be read: {ex.Message}");
        }

        using (archive)
        {
            var seen = new EntrySet();
            // Declared sizes first: a zip bomb is refused before a byte is written. Real bytes are counted anyway.
            var declared = archive.Entries.Sum(e => e.Length);
            if (declared > budget.Limit)
            {
                throw budget.Exceeded("the archive");
            }

            foreach (var entry in archive.Entries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var unixMode = (entry.ExternalAttributes >> 16) & 0xFFFF;
                var fileType = unixMode & 0xF000;
                var isDirectory = entry.FullName.EndsWith('/') || entry.FullName.EndsWith('\\') || fileType == 0x4000;
                var relative = SafeRelativePath(entry.FullName);
                if (relative.Length == 0)
                {
                    continue;
                }

                seen.Add(relative, entry.FullName);
                var target = Path.Combine(destination, relative);
                if (isDirectory)
                {
                    CreateDirectoryInside(destination, relative);
                    continue;
                }

                CreateDirectoryInside(destination, Path.GetDirectoryName(relative) ?? "");
                if (fileType == 0xA000)
                {
                    string linkTarget;
                    using (var reader = new StreamReader(entry.Open()))
                    {
                        var buffer = new char[4097];
                        var read = await reader.ReadBlockAsync(buffer, cancellationToken);
                        linkTarget = new string(buffer, 0, read);
                    }

                    CreateLinkInside(destination, relative, linkTarget, entry.FullName);
                    continue;
                }

                if (fileType != 0 && fileType != 0x8000)
                {
                    throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe,
                        $"The zip entry '{Printable(entry.FullName)}' is a device file or FIFO; packages may hold only files, directories and links inside the release.");
                }

                await using (var source = entry.Open())
                {
                    await WriteFileAsync(source, target, budget, entry.FullName, cancellationToken);
                }

                SetMode(target, unixMode);
            }
        }
    }

    private static async Task ExtractTarGzipAsync(Stream input, string destination, ByteBudget budget, CancellationToken cancellationToken)
    {
        var seen = new EntrySet();
        try
        {
            await using var gzip = new GZipStream(input, CompressionMode.Decompress, leaveOpen: true);
            await using var reader = new TarReader(gzip, leaveOpen: true);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                if (entry.EntryType is TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes)
                {
                    continue;
                }

                var relative = SafeRelativePath(entry.Name);
                if (relative.Length == 0)
                {
                    continue;
                }

                seen.Add(relative, entry.Name);
                var target = Path.Combine(destination, relative);
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        CreateDirectoryInside(destination, relative);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        CreateDirectoryInside(destination, Path.GetDirectoryName(relative) ?? "");
                        await WriteFileAsync(entry.DataStream ?? Stream.Null, target, budget, entry.Name, cancellationToken);

                        SetMode(target, (int)entry.Mode);
                        break;
                    case TarEntryType.SymbolicLink:
                        CreateDirectoryInside(destination, Path.GetDirectoryName(relative) ?? "");
                        CreateLinkInside(destination, relative, entry.LinkName, entry.Name);
                        break;
                    case TarEntryType.HardLink:
                        // A hard link names another entry of the archive; it is installed as a copy of that file.
                        var source = SafeRelativePath(entry.LinkName, what: "hard link target of", owner: entry.Name);
                        var sourcePath = Path.Combine(destination, source);
                        if (!File.Exists(sourcePath) || new FileInfo(sourcePath).LinkTarget != null)
                        {
                            throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe,
                                $"The tar entry '{Printable(entry.Name)}' is a hard link to '{Printable(entry.LinkName)}', which is not a file earlier in the archive.");
                        }

                        CreateDirectoryInside(destination, Path.GetDirectoryName(relative) ?? "");
                        await using (var from = File.OpenRead(sourcePath))
                        {
                            await WriteFileAsync(from, target, budget, entry.Name, cancellationToken);
                        }

                        SetMode(target, (int)entry.Mode);
                        break;
                    case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                        throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe,
                            $"The tar entry '{Printable(entry.Name)}' is a {entry.EntryType} entry; packages may hold only files, directories and links inside the release.");
                    default:
                        throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe,
                            $"The tar entry '{Printable(entry.Name)}' has the unsupported type {entry.EntryType}.");
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new UnpackRefusedException(FloydErrorCodes.PackageInvalid, $"The tar.gz package cannot be read: {ex.Message}");
        }
    }

    /// <summary>
    /// A new file with the entry's bytes, counted against the budget. Its writes to disk are started once it is complete,
    /// so the flush of the whole release before it becomes current (<see cref="ReleaseFlush"/>) finds them under way.
    /// </summary>
    private static async Task WriteFileAsync(Stream source, string target, ByteBudget budget, string entryName, CancellationToken cancellationToken)
    {
        await using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
        await budget.CopyAsync(source, output, entryName, cancellationToken);
        EarlyWriteback.StartAll(output);
    }

    /// <summary>
    /// The entry name as a relative path of plain segments. Refuses absolute paths, drive letters, UNC paths, '..'
    /// segments and control characters; '.' segments and empty segments are dropped.
    /// </summary>
    private static string SafeRelativePath(string name, string what = "entry", string? owner = null)
    {
        var shown = owner == null ? $"The {what} '{Printable(name)}'" : $"The {what} '{Printable(owner)}' ('{Printable(name)}')";
        if (name.Any(c => c < ' ' || c == 127))
        {
            throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe, $"{shown} contains control characters.");
        }

        var unified = name.Replace('\\', '/');
        if (unified.StartsWith('/') || (unified.Length >= 2 && unified[1] == ':' && char.IsAsciiLetter(unified[0])))
        {
            throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe, $"{shown} is an absolute path; package entries must be relative to the release directory.");
        }

        var segments = unified.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".").ToArray();
        if (segments.Any(s => s == ".." || s.Contains(':')))
        {
            throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe, $"{shown} escapes the release directory ('..' or ':' in a path segment).");
        }

        return Path.Combine(segments);
    }

    /// <summary>Creates a directory under the root, refusing to go through a link the archive made.</summary>
    private static void CreateDirectoryInside(string root, string relative)
    {
        var current = root;
        foreach (var segment in relative.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, segment);
            var info = new DirectoryInfo(current);
            if (info.LinkTarget != null || File.Exists(current))
            {
                throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe,
                    $"The package writes '{Printable(relative)}' through '{Printable(Path.GetRelativePath(root, current))}', which is a link or a file; entries may not go through links.");
            }

            if (!info.Exists)
            {
                info.Create();
            }
        }
    }

    private static void CreateLinkInside(string root, string relative, string linkTarget, string entryName)
    {
        if (string.IsNullOrEmpty(linkTarget))
        {
            throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe, $"The link '{Printable(entryName)}' has no target.");
        }

        var unified = linkTarget.Replace('\\', '/');
        var linkDirectory = Path.GetDirectoryName(Path.Combine(root, relative))!;
        var resolved = Path.GetFullPath(Path.Combine(linkDirectory, unified));
        var rootWithSeparator = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + Path.DirectorySeparatorChar;
        if (unified.StartsWith('/') || (unified.Length >= 2 && unified[1] == ':') ||
            !(resolved + Path.DirectorySeparatorChar).StartsWith(rootWithSeparator, StringComparison.Ordinal))
        {
            throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe,
                $"The link '{Printable(entryName)}' points to '{Printable(linkTarget)}', outside the release directory.");
        }

        File.CreateSymbolicLink(Path.Combine(root, relative), linkTarget.Replace('/', Path.DirectorySeparatorChar));
    }

    private static void SetMode(string path, int mode)
    {
        var permissions = (UnixFileMode)(mode & 0x1FF) & PermissionBits;
        if (!OperatingSystem.IsWindows() && permissions != 0)
        {
            // The owner can always read and write what it installed, whatever the archive says.
            File.SetUnixFileMode(path, permissions | UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    internal static string Printable(string text) => new(text.Select(c => c >= ' ' && c != 127 ? c : '?').Take(200).ToArray());

    /// <summary>Entry paths already written; file systems may ignore case, so duplicates are compared without it.</summary>
    private sealed class EntrySet
    {
        private readonly HashSet<string> _paths = new(StringComparer.OrdinalIgnoreCase);

        public void Add(string relative, string entryName)
        {
            if (!_paths.Add(relative))
            {
                throw new UnpackRefusedException(FloydErrorCodes.PackageUnsafe,
                    $"The package holds '{Printable(entryName)}' twice; entries must be unique (compared without case).");
            }
        }
    }

    /// <summary>Counts bytes as they are written and stops at the limit.</summary>
    private sealed class ByteBudget(long limit)
    {
        public long Limit { get; } = limit;

        public long Used { get; private set; }

        public async Task CopyAsync(Stream source, Stream destination, string entryName, CancellationToken cancellationToken)
        {
            var buffer = new byte[81920];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                Used += read;
                if (Used > Limit)
                {
                    throw Exceeded($"'{Printable(entryName)}'");
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }

        public UnpackRefusedException Exceeded(string where) => new(FloydErrorCodes.PackageTooLarge,
            $"The package expands to more than {Limit} bytes (at {where}); raise maxExpandedBytes for the service if that is expected.");
    }
}
