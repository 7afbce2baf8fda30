using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ReleaseTools.Engine.Store.Portable
{
    /// <summary>
    /// The backup file: gzip-compressed UTF-8 JSON lines, one portable format whichever store wrote it, so a SQLite backup
    /// restores into PostgreSQL and back. The first line is a header (format version, source store and its schema
    /// version, the columns of each table), then one line per row (<c>{"t":table,"r":[values]}</c>), and last a manifest
    /// with the row count and digest of every table and the SHA-256 of every line before it. A file without its
    /// manifest (truncated) or whose lines do not hash to it (altered) is refused before anything is written.
    /// Table digests hash each row's canonical form and combine the sorted hashes, so they do not depend on the order a
    /// store returns rows in: equal digests mean equal records, across stores.
    /// </summary>
    internal static class StoreBackupFile
    {
        public const string FormatName = "ReleaseTools store backup";

        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        public static BackupManifest Write(string path, IPortableStore store, string storeDisplay, Action<Action<PortableTable, object?[]>> export)
        {
            var digests = new TableDigests();
            using var content = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var createdAt = DateTimeOffset.UtcNow;
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            // Fastest: the lines repeat so much that level 1 already shrinks them about tenfold, at a fraction of the CPU.
            using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
            {
                void Line(byte[] json)
                {
                    gzip.Write(json, 0, json.Length);
                    gzip.WriteByte((byte)'\n');
                    content.AppendData(json);
                    content.AppendData(new[] { (byte)'\n' });
                }

                Line(Header(store, storeDisplay, createdAt));
                export((table, values) =>
                {
                    var row = Canonical(values);
                    digests.Add(table, row);
                    Line(RowLine(table.Name, row));
                });

                var manifest = digests.ToManifest(createdAt, store.Kind, storeDisplay, store.SchemaVersion, ToHex(content.GetHashAndReset()));
                var manifestLine = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["manifest"] = manifest.ToJson() });
                gzip.Write(manifestLine, 0, manifestLine.Length);
                gzip.WriteByte((byte)'\n');
                return manifest;
            }
        }

        /// <summary>Reads the whole file and checks it against its manifest; returns the manifest, or throws BackupCorrupt / BackupNewerFormat.</summary>
        public static BackupManifest Verify(string path)
        {
            BackupManifest? verified = null;
            foreach (var _ in Rows(path, m => verified = m))
            {
            }

            return verified!;
        }

        /// <summary>
        /// The file's rows in order. The content digest and table digests are checked at the end; a mismatch throws there,
        /// which is why a restore consumes this inside its transaction: the throw rolls everything back.
        /// </summary>
        public static IEnumerable<KeyValuePair<PortableTable, object?[]>> Rows(string path, Action<BackupManifest>? onVerified = null)
        {
            FileStream file;
            try
            {
                file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new StoreException(StoreErrorIds.BackupFileUnavailable, $"The backup file '{path}' cannot be read: {ex.Message}", path, ex);
            }

            using (file)
            using (var gzip = new GZipStream(file, CompressionMode.Decompress))
            using (var reader = new StreamReader(gzip, Utf8, detectEncodingFromByteOrderMarks: false))
            using (var content = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var digests = new TableDigests();
                Dictionary<string, DeclaredTable>? tables = null;
                BackupManifest? manifest = null;
                var lineNumber = 0;
                var bytes = new byte[4096];
                while (true)
                {
                    string? line;
                    try
                    {
                        line = reader.ReadLine();
                    }
                    catch (Exception ex) when (ex is InvalidDataException || ex is IOException)
                    {
                        throw Corrupt(path, $"it is not a complete gzip stream ({ex.Message})");
                    }

                    if (line == null)
                    {
                        break;
                    }

                    lineNumber++;
                    if (manifest != null)
                    {
                        throw Corrupt(path, "it has lines after its manifest");
                    }

                    // The line's UTF-8 bytes, once: hashed for the content digest, parsed, and sliced for the row digest.
                    var length = Utf8.GetMaxByteCount(line.Length);
                    if (bytes.Length < length)
                    {
                        bytes = new byte[Math.Max(length, bytes.Length * 2)];
                    }

                    length = Utf8.GetBytes(line, 0, line.Length, bytes, 0);
                    JsonDocument document;
                    try
                    {
                        document = JsonDocument.Parse(new ReadOnlyMemory<byte>(bytes, 0, length));
                    }
                    catch (JsonException)
                    {
                        throw Corrupt(path, $"line {lineNumber} is not JSON");
                    }

                    using (document)
                    {
                        var root = document.RootElement;
                        if (tables == null)
                        {
                            tables = ReadHeader(path, root);
                        }
                        else if (root.TryGetProperty("manifest", out var manifestElement))
                        {
                            manifest = BackupManifest.FromJson(manifestElement, () => Corrupt(path, "its manifest is malformed"));
                            continue;
                        }
                        else
                        {
                            var (table, values) = ReadRow(path, root, tables, lineNumber);
                            // The digests cover the row as its backup wrote it; missing columns are filled only for the store.
                            if (TryCanonicalSlice(table.Name, bytes, length, out var start, out var count))
                            {
                                digests.Add(table, bytes, start, count);
                            }
                            else
                            {
                                var canonical = Canonical(values);
                                digests.Add(table, canonical, 0, canonical.Length);
                            }

                            Hash(content, bytes, length);
                            yield return new KeyValuePair<PortableTable, object?[]>(table, table.Complete(values));
                            continue;
                        }
                    }

                    Hash(content, bytes, length);
                }

                if (tables == null)
                {
                    throw Corrupt(path, "it is empty");
                }

                if (manifest == null)
                {
                    throw Corrupt(path, "it ends before its manifest (the file is truncated)");
                }

                var contentDigest = ToHex(content.GetHashAndReset());
                if (!string.Equals(contentDigest, manifest.ContentDigest, StringComparison.OrdinalIgnoreCase))
                {
                    throw Corrupt(path, "its contents do not match the digest in its manifest (the file was altered)");
                }

                var recomputed = digests.ToManifest(manifest.CreatedAt, manifest.SourceKind, manifest.SourceStore, manifest.SourceSchemaVersion, contentDigest);
                // Only the tables the backup's format carries: an older backup's manifest does not name the newer ones (and has no rows of them).
                foreach (var table in PortableSchema.Tables.Where(t => tables.ContainsKey(t.Name)))
                {
                    if (recomputed.Counts[table.Label] != (manifest.Counts.TryGetValue(table.Label, out var count) ? count : -1) ||
                        recomputed.Digests[table.Label] != (manifest.Digests.TryGetValue(table.Label, out var digest) ? digest : null))
                    {
                        throw Corrupt(path, $"its {table.Label} do not match the count and digest in its manifest");
                    }
                }

                onVerified?.Invoke(manifest);
            }
        }

        /// <summary>Counts and digests of what a store holds now, computed as a backup would, without writing a file.</summary>
        public static BackupManifest Summarize(IPortableStore store, string storeDisplay, Action<Action<PortableTable, object?[]>> export)
        {
            var digests = new TableDigests();
            export((table, values) => digests.Add(table, Canonical(values)));
            return digests.ToManifest(DateTimeOffset.UtcNow, store.Kind, storeDisplay, store.SchemaVersion, "");
        }

        private static byte[] Header(IPortableStore store, string storeDisplay, DateTimeOffset createdAt) =>
            JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
            {
                ["format"] = FormatName,
                ["formatVersion"] = PortableSchema.FormatVersion,
                ["createdAt"] = createdAt.ToString("o", CultureInfo.InvariantCulture),
                ["source"] = new Dictionary<string, object> { ["kind"] = store.Kind, ["store"] = storeDisplay, ["schemaVersion"] = store.SchemaVersion },
                ["tables"] = PortableSchema.Tables.ToDictionary(t => t.Name, t => t.Columns.Select(c => c.Name).ToArray()),
            });

        /// <summary>A table as a backup's header declares it: the columns of that backup's format.</summary>
        private sealed class DeclaredTable
        {
            public DeclaredTable(PortableTable table, IReadOnlyList<PortableColumn> columns)
            {
                Table = table;
                Columns = columns;
            }

            public PortableTable Table { get; }
            public IReadOnlyList<PortableColumn> Columns { get; }
        }

        private static Dictionary<string, DeclaredTable> ReadHeader(string path, JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String ||
                format.GetString() != FormatName)
            {
                throw Corrupt(path, "it does not start with a ReleaseTools backup header");
            }

            if (!root.TryGetProperty("formatVersion", out var version) || version.ValueKind != JsonValueKind.Number)
            {
                throw Corrupt(path, "its header has no format version");
            }

            if (version.GetInt32() > PortableSchema.FormatVersion)
            {
                throw new StoreException(StoreErrorIds.BackupNewerFormat,
                    $"The backup '{path}' was written by a newer release of ReleaseTools (backup format {version.GetInt32()}; this release reads up to " +
                    $"{PortableSchema.FormatVersion}). Restore it with that release or a later one; nothing was changed.", path);
            }

            var tables = new Dictionary<string, DeclaredTable>(StringComparer.Ordinal);
            if (!root.TryGetProperty("tables", out var declared) || declared.ValueKind != JsonValueKind.Object)
            {
                throw Corrupt(path, "its header lists no tables");
            }

            var formatVersion = version.GetInt32();
            foreach (var table in PortableSchema.TablesIn(formatVersion))
            {
                if (!declared.TryGetProperty(table.Name, out var columns) || columns.ValueKind != JsonValueKind.Array ||
                    !columns.EnumerateArray().Select(c => c.GetString()).SequenceEqual(table.ColumnsIn(formatVersion).Select(c => c.Name)))
                {
                    throw Corrupt(path, $"its header does not describe the {table.Name} table as backup format {formatVersion} does");
                }

                tables[table.Name] = new DeclaredTable(table, table.ColumnsIn(formatVersion));
            }

            return tables;
        }

        private static (PortableTable Table, object?[] Values) ReadRow(string path, JsonElement root, Dictionary<string, DeclaredTable> tables, int lineNumber)
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("t", out var name) || name.ValueKind != JsonValueKind.String ||
                !tables.TryGetValue(name.GetString()!, out var declared) || !root.TryGetProperty("r", out var row) || row.ValueKind != JsonValueKind.Array ||
                row.GetArrayLength() != declared.Columns.Count)
            {
                throw Corrupt(path, $"line {lineNumber} is not a row of a known table");
            }

            var table = declared.Table;
            var values = new object?[declared.Columns.Count];
            var index = 0;
            foreach (var element in row.EnumerateArray())
            {
                var kind = declared.Columns[index].Kind;
                try
                {
                    values[index] = element.ValueKind == JsonValueKind.Null ? null : kind switch
                    {
                        PortableKind.Integer => element.GetInt64(),
                        PortableKind.Boolean => element.GetBoolean(),
                        PortableKind.Bytes => Convert.FromBase64String(element.GetString()!),
                        _ => (object?)element.GetString(),
                    };
                }
                catch (Exception ex) when (ex is InvalidOperationException || ex is FormatException)
                {
                    throw Corrupt(path, $"line {lineNumber} holds a value of the wrong kind for {table.Name}.{declared.Columns[index].Name}");
                }

                index++;
            }

            return (table, values);
        }

        /// <summary>A row's canonical JSON array: the bytes its digest is taken over, identical whichever store it came from.</summary>
        private static byte[] Canonical(object?[] values)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartArray();
                foreach (var value in values)
                {
                    switch (value)
                    {
                        case null:
                            writer.WriteNullValue();
                            break;
                        case long number:
                            writer.WriteNumberValue(number);
                            break;
                        case bool flag:
                            writer.WriteBooleanValue(flag);
                            break;
                        case byte[] bytes:
                            writer.WriteBase64StringValue(bytes);
                            break;
                        default:
                            writer.WriteStringValue((string)value);
                            break;
                    }
                }

                writer.WriteEndArray();
            }

            return buffer.ToArray();
        }

        private static readonly Dictionary<string, byte[]> RowPrefixes =
            PortableSchema.Tables.ToDictionary(t => t.Name, t => Utf8.GetBytes("{\"t\":" + JsonSerializer.Serialize(t.Name) + ",\"r\":"), StringComparer.Ordinal);

        /// <summary>
        /// A row line is its table's prefix, the row's canonical array, then '}'. Its canonical bytes are therefore a slice of
        /// the line as written, so reading a backup hashes that slice instead of serializing every row again. A line that
        /// does not have this exact shape was not written by a backup (and fails the content digest); its row is
        /// serialized to compute the digest all the same.
        /// </summary>
        private static bool TryCanonicalSlice(string table, byte[] line, int length, out int start, out int count)
        {
            var prefix = RowPrefixes[table];
            start = prefix.Length;
            count = length - prefix.Length - 1;
            if (count <= 0 || line[length - 1] != (byte)'}')
            {
                return false;
            }

            for (var i = 0; i < prefix.Length; i++)
            {
                if (line[i] != prefix[i])
                {
                    return false;
                }
            }

            return true;
        }

        private static byte[] RowLine(string table, byte[] row)
        {
            var prefix = RowPrefixes[table];
            var line = new byte[prefix.Length + row.Length + 1];
            Buffer.BlockCopy(prefix, 0, line, 0, prefix.Length);
            Buffer.BlockCopy(row, 0, line, prefix.Length, row.Length);
            line[line.Length - 1] = (byte)'}';
            return line;
        }

        private static readonly byte[] NewLine = { (byte)'\n' };

        private static void Hash(IncrementalHash content, byte[] line, int length)
        {
            content.AppendData(line, 0, length);
            content.AppendData(NewLine);
        }

        internal static string ToHex(byte[] bytes)
        {
            var builder = new StringBuilder(bytes.Length * 2);
            foreach (var b in bytes)
            {
                builder.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return builder.ToString();
        }

        private static StoreException Corrupt(string path, string why) =>
            new StoreException(StoreErrorIds.BackupCorrupt,
                $"The backup '{path}' cannot be restored: {why}. Nothing was changed; restore from another copy of the backup.", path);

        /// <summary>Row counts and order-independent digests per table.</summary>
        private sealed class TableDigests
        {
            private readonly Dictionary<string, List<byte[]>> _hashes = PortableSchema.Tables.ToDictionary(t => t.Name, _ => new List<byte[]>());
            private readonly SHA256 _sha = SHA256.Create();

            public void Add(PortableTable table, byte[] canonicalRow) => Add(table, canonicalRow, 0, canonicalRow.Length);

            public void Add(PortableTable table, byte[] buffer, int offset, int count) => _hashes[table.Name].Add(_sha.ComputeHash(buffer, offset, count));

            public BackupManifest ToManifest(DateTimeOffset createdAt, string kind, string store, int schemaVersion, string contentDigest)
            {
                var counts = new Dictionary<string, long>(StringComparer.Ordinal);
                var digests = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var table in PortableSchema.Tables)
                {
                    var hashes = _hashes[table.Name];
                    hashes.Sort(CompareBytes);
                    using var combined = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    foreach (var hash in hashes)
                    {
                        combined.AppendData(hash);
                    }

                    counts[table.Label] = hashes.Count;
                    digests[table.Label] = ToHex(combined.GetHashAndReset());
                }

                return new BackupManifest
                {
                    FormatVersion = PortableSchema.FormatVersion,
                    CreatedAt = createdAt,
                    SourceKind = kind,
                    SourceStore = store,
                    SourceSchemaVersion = schemaVersion,
                    Counts = counts,
                    Digests = digests,
                    ContentDigest = contentDigest,
                };
            }

            private static int CompareBytes(byte[] a, byte[] b)
            {
                for (var i = 0; i < a.Length; i++)
                {
                    var c = a[i].CompareTo(b[i]);
                    if (c != 0)
                    {
                        return c;
                    }
                }

                return 0;
            }
        }
    }
}
