using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Agent.Security;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Endpoints;

/// <summary>What a push carried: its fields and the file, already on disk under a temporary name.</summary>
public sealed record ReceivedFile(string Service, string Version, string FVersion, string FileName, string Md5Hex, long Bytes, ReleaseRepository.Receipt Receipt);

/// <summary>
/// Reads a push body (fields service, version, fversion, then the part named file) as a stream: the file goes
/// straight to a temporary file while its MD5 is computed, so memory does not grow with the package size.
/// </summary>
public static class MultipartReceiver
{
    private const int MaxFieldBytes = 1024;

    /// <summary>
    /// One read of the body, one MD5 update and one file write per this many bytes: large enough that the per-read
    /// costs (an await, the boundary search, three calls) vanish against the hashing, small enough to stay in the CPU's
    /// cache between the two hashes and the write.
    /// </summary>
    internal const int ReceiveBufferBytes = 64 * 1024;

    /// <remarks>
    /// One async method, not a wrapper around another: each async method returning a reference type is a state machine
    /// the published agent's precompiled image lacks, compiled on the first push.
    /// </remarks>
    public static async Task<ReceivedFile> ReceiveAsync(HttpContext context, ReleaseRepository repository, bool requireValidFileName, CancellationToken cancellationToken)
    {
        try
        {
            if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var contentType) ||
                !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            {
                throw Malformed("The body must be multipart/form-data.");
            }

            var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
            if (string.IsNullOrEmpty(boundary) || boundary.Length > 200)
            {
                throw Malformed("The multipart Content-Type has no usable boundary.");
            }

            // Protocol 1.1 signs the framing: the boundary is in the signed URI, so a changed Content-Type cannot make the
            // agent read the signed bytes as other parts (say a service and version hidden inside the package).
            var signedBoundary = context.Request.Query[FloydProtocol.BoundaryQueryParameter];
            if (signedBoundary.Count != 1 || !string.Equals(signedBoundary[0], boundary, StringComparison.Ordinal))
            {
                throw Malformed(signedBoundary.Count == 0
                    ? $"A push must carry its multipart boundary in the signed URI ('?{FloydProtocol.BoundaryQueryParameter}=<boundary>')."
                    : "The multipart boundary of the Content-Type differs from the one in the signed URI; the headers were changed on the way.");
            }

            // The reader's buffer bounds every read of the file part: at its default 4 KiB a 64 MiB package took 16,000 reads,
            // each through the signature hash, the boundary search and an await. ReceiveBufferBytes per push instead.
            var reader = new MultipartReader(boundary, context.Request.Body, ReceiveBufferBytes) { HeadersLengthLimit = 16 * 1024, HeadersCountLimit = 16 };
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            MultipartSection? fileSection = null;
            ContentDispositionHeaderValue? fileDisposition = null;
            while (fileSection == null)
            {
                var section = await reader.ReadNextSectionAsync(cancellationToken)
                    ?? throw Malformed($"The body ended before the '{FloydProtocol.FileField}' part.");
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) ||
                    !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                {
                    throw Malformed("Every part needs a 'Content-Disposition: form-data' header.");
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (name == FloydProtocol.FileField && fields.Count == 0)
                {
                    throw Malformed($"The '{FloydProtocol.FileField}' part comes first; the fields {FloydProtocol.ServiceField}, {FloydProtocol.VersionField} and {FloydProtocol.FVersionField} must come before it.");
                }

                if (name == FloydProtocol.FileField)
                {
                    fileSection = section;
                    fileDisposition = disposition;
                    break;
                }

                // "Last one wins" would let a field the reader looked at differ from the one acted on: a repeat is refused.
                if (!fields.TryAdd(name, await ReadFieldAsync(section.Body, name, cancellationToken)))
                {
                    throw Malformed($"The field '{Printable(name)}' appears more than once.");
                }
            }

            var service = FloydNames.RequireService(fields.GetValueOrDefault(FloydProtocol.ServiceField));
            var slot = InstanceParameter.SlotOf(context, service);
            repository.RequireNoCaseTwin(slot);
            var version = FloydNames.RequireVersion(fields.GetValueOrDefault(FloydProtocol.VersionField));
            var fversion = FloydNames.RequireFVersion(fields.GetValueOrDefault(FloydProtocol.FVersionField));
            var rawFileName = HeaderUtilities.RemoveQuotes(fileDisposition!.FileNameStar.HasValue ? fileDisposition.FileNameStar : fileDisposition.FileName).Value ?? "";
            var fileName = requireValidFileName ? FloydNames.RequireFileName(rawFileName) : SafeFileName(rawFileName);
            var ticket = context.Features.GetRequiredFeature<UploadTicket>();
            // The ticket was issued for one instance's slot: it admits no push to another instance of the service.
            if (ticket.Service != slot || ticket.Version != version || ticket.FVersion != fversion)
            {
                throw TicketMismatch($"The push is for {slot} {version} (fversion {fversion}), but its upload ticket was issued for {ticket.Service} {ticket.Version} (fversion {ticket.FVersion}); nothing was stored.");
            }

            var expectedMd5 = context.Request.Headers[FloydProtocol.ContentMd5Header].ToString();
            var receipt = repository.BeginReceive(slot, version, fversion, Md5HexFromHeader(expectedMd5));
            var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferBytes);
            try
            {
                long bytes = 0;
                byte[] md5;
                using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5))
                await using (var file = CreateIncomingFile(receipt.TempPath, ticket.Bytes))
                {
                    var writeback = EarlyWriteback.For(file);
                    int read;
                    while ((read = await fileSection.Body.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        // The ticket's size bounds what reaches the disk before the signature is known to be good.
                        if (bytes + read > ticket.Bytes)
                        {
                            throw TicketMismatch($"The file is longer than the {ticket.Bytes} bytes its upload ticket was issued for; nothing was stored.");
                        }

                        // MD5 over the chunk while it is still in the cache, then straight to the file (no second buffer).
                        hash.AppendData(buffer, 0, read);
                        await WriteLocalAsync(file, buffer, read, cancellationToken);
                        bytes += read;
                        writeback.Written(bytes);
                    }

                    FlushLocal(file);
                    md5 = hash.GetHashAndReset();
                }

                if (await reader.ReadNextSectionAsync(cancellationToken) != null)
                {
                    throw Malformed($"The '{FloydProtocol.FileField}' part must be the last part.");
                }

                if (bytes != ticket.Bytes)
                {
                    throw TicketMismatch($"The file is {bytes} bytes, but its upload ticket was issued for {ticket.Bytes}; nothing was stored.");
                }

                return new ReceivedFile(service, version, fversion, fileName, Convert.ToHexStringLower(md5), bytes, receipt);
            }
            catch
            {
                receipt.Dispose();
                throw;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested && ex is not BadHttpRequestException and not FileNotFoundException and not DirectoryNotFoundException)
        {
            // MultipartReader reports a body that ends inside a part (no closing boundary) as an IOException.
            throw Malformed($"The multipart body is incomplete: {ex.Message}");
        }
    }

    /// <summary>
    /// The incoming file, sized up front from the ticket (one allocation of the disk space instead of growing it chunk
    /// by chunk, and a full disk is found before a byte is read) and unbuffered: every write is already a whole
    /// receive buffer, so a FileStream buffer would only copy each byte once more.
    /// </summary>
    private static FileStream CreateIncomingFile(string path, long expectedBytes)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0,
                PreallocationSize = expectedBytes,
                Options = FileOptions.Asynchronous,
            });
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException($"Cannot create the incoming file '{path}' for {expectedBytes} bytes: {ex.Message}", ex);
        }
    }

    /// <summary>A local disk failure is the agent's problem (500), not a malformed body, so it must not surface as an IOException here.</summary>
    private static async Task WriteLocalAsync(FileStream file, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        try
        {
            await file.WriteAsync(buffer.AsMemory(0, count), cancellationToken);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException($"Cannot write the incoming file '{file.Name}': {ex.Message}", ex);
        }
    }

    /// <summary>On disk before the package is committed: the version record written after it must never name lost bytes.</summary>
    private static void FlushLocal(FileStream file)
    {
        try
        {
            file.Flush(flushToDisk: true);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException($"Cannot write the incoming file '{file.Name}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Content-MD5 is the standard base64 of the 16-byte digest of the file part (RFC 1864): exactly 24 characters,
    /// ending in its "==" padding, optional whitespace around it. Returns it as lowercase hex, or null if absent or
    /// anything else (unpadded, base64url, hex, spaces inside): one spelling, so what was checked is what was meant.
    /// </summary>
    public static string? Md5HexFromHeader(string header)
    {
        var text = header.Trim();
        if (text.Length != 24 || !text.EndsWith("==", StringComparison.Ordinal) ||
            text.AsSpan(0, 22).ContainsAnyExcept(Base64Alphabet))
        {
            return null;
        }

        var bytes = new byte[16];
        return Convert.TryFromBase64String(text, bytes, out var written) && written == 16 ? Convert.ToHexStringLower(bytes) : null;
    }

    private static readonly System.Buffers.SearchValues<char> Base64Alphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");

    private static async Task<string> ReadFieldAsync(Stream body, string name, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxFieldBytes)
            {
                throw Malformed($"The field '{name}' is longer than {MaxFieldBytes} bytes.");
            }

            buffer.Write(chunk, 0, read);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>The package's own file name is only kept as information; an unusable one is replaced, not rejected.</summary>
    private static string SafeFileName(string name)
    {
        var cleaned = new string(Path.GetFileName(name).Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_').Take(128).ToArray());
        return cleaned.Length == 0 || !char.IsAsciiLetterOrDigit(cleaned[0]) || cleaned.Contains("..") ? "package" : cleaned;
    }

    private static string Printable(string text) => new(text.Where(c => c >= ' ' && c < 127).Take(40).ToArray());

    private static FloydRejection TicketMismatch(string message) =>
        new(StatusCodes.Status400BadRequest, FloydErrorCodes.UploadTicketMismatch, message);

    private static FloydRejection Malformed(string message) =>
        new(StatusCodes.Status400BadRequest, FloydErrorCodes.MultipartMalformed, message);
}
