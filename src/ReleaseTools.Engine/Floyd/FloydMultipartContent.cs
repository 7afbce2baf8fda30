using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// A multipart/form-data body (text fields, then one file) whose bytes are identical every time it is written:
    /// the boundary is fixed at construction and the file is re-opened and streamed in chunks on each write.
    /// The client writes it once through the signature hash and once to the socket, so a package of any size is
    /// signed and sent with one buffer of memory. Content-Length is known up front, so no chunked encoding.
    /// </summary>
    internal sealed class FloydMultipartContent : HttpContent
    {
        /// <summary>The file is read and written in chunks of this size, from a rented buffer: one buffer per push in flight.</summary>
        internal const int ChunkSize = 81920;
        private readonly byte[] _preamble;
        private readonly byte[] _epilogue;
        private readonly Func<Stream> _openFile;
        private readonly long _fileLength;

        public FloydMultipartContent(IEnumerable<KeyValuePair<string, string>> fields, string fileName, long fileLength, Func<Stream> openFile, string? boundary = null)
        {
            _openFile = openFile ?? throw new ArgumentNullException(nameof(openFile));
            _fileLength = fileLength;
            Boundary = boundary ?? "floyd-" + Guid.NewGuid().ToString("N");

            var head = new StringBuilder();
            foreach (var field in fields)
            {
                RequireHeaderSafe(field.Key, "field name");
                RequireHeaderSafe(field.Value, field.Key);
                head.Append("--").Append(Boundary).Append("\r\n")
                    .Append("Content-Disposition: form-data; name=\"").Append(field.Key).Append("\"\r\n\r\n")
                    .Append(field.Value).Append("\r\n");
            }

            RequireHeaderSafe(fileName, "file name");
            head.Append("--").Append(Boundary).Append("\r\n")
                .Append("Content-Disposition: form-data; name=\"").Append(FloydProtocol.FileField).Append("\"; filename=\"").Append(fileName).Append("\"\r\n")
                .Append("Content-Type: application/octet-stream\r\n\r\n");
            _preamble = Encoding.UTF8.GetBytes(head.ToString());
            _epilogue = Encoding.ASCII.GetBytes("\r\n--" + Boundary + "--\r\n");

            var contentType = new MediaTypeHeaderValue("multipart/form-data");
            contentType.Parameters.Add(new NameValueHeaderValue("boundary", Boundary));
            Headers.ContentType = contentType;
        }

        public string Boundary { get; }

        public long TotalLength => _preamble.Length + _fileLength + _epilogue.Length;

        /// <summary>Cancels the socket write; netstandard2.0's HttpContent has no token of its own.</summary>
        public CancellationToken SendCancellation { get; set; }

        /// <summary>Told the file bytes written to the socket so far, after each chunk (upload progress).</summary>
        public Action<long>? OnFileBytesSent { get; set; }

        /// <summary>Writes the whole body; <paramref name="onFileChunk"/> sees exactly the file's bytes (for its MD5).</summary>
        /// <remarks>
        /// With <paramref name="scanForDelimiter"/> (the signing pass), the file is also searched for the delimiter
        /// <c>--boundary</c>, across chunk edges; finding it throws <see cref="BoundaryInContentException"/>.
        /// </remarks>
        public async Task WriteBodyAsync(Stream destination, Action<byte[], int, int>? onFileChunk, bool scanForDelimiter, CancellationToken cancellationToken,
            Action<long>? onFileBytesWritten = null)
        {
            await destination.WriteAsync(_preamble, 0, _preamble.Length, cancellationToken).ConfigureAwait(false);
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
            try
            {
                var scanner = !scanForDelimiter ? null : new DelimiterScanner(Encoding.ASCII.GetBytes("--" + Boundary));
                long copied = 0;
                using (var file = _openFile())
                {
                    int read;
                    while ((read = await file.ReadAsync(buffer, 0, ChunkSize, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        copied += read;
                        if (copied > _fileLength)
                        {
                            break;
                        }

                        onFileChunk?.Invoke(buffer, 0, read);
                        if (scanner != null && scanner.Found(buffer, read))
                        {
                            throw new BoundaryInContentException();
                        }

                        await destination.WriteAsync(buffer, 0, read, cancellationToken).ConfigureAwait(false);
                        onFileBytesWritten?.Invoke(copied);
                    }
                }

                if (copied != _fileLength)
                {
                    // The announced Content-Length and the signature were computed for the old size.
                    throw new IOException($"The file changed size while it was being sent ({_fileLength} bytes expected, {copied} read).");
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            await destination.WriteAsync(_epilogue, 0, _epilogue.Length, cancellationToken).ConfigureAwait(false);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            WriteBodyAsync(stream, null, scanForDelimiter: false, SendCancellation, OnFileBytesSent);

        protected override bool TryComputeLength(out long length)
        {
            length = TotalLength;
            return true;
        }

        private static void RequireHeaderSafe(string value, string what)
        {
            if (value == null) throw new ArgumentNullException(what);
            foreach (var c in value)
            {
                if (c == '\r' || c == '\n' || c == '"')
                {
                    throw new ArgumentException($"The {what} must not contain quotes or line breaks.", what);
                }
            }
        }
    }

    /// <summary>The file holds the multipart delimiter; the body must be built again with another boundary.</summary>
    internal sealed class BoundaryInContentException : Exception
    {
        public BoundaryInContentException() : base("The file contains the multipart boundary.") { }
    }

    /// <summary>Finds a byte string in a stream seen chunk by chunk, including occurrences that straddle two chunks.</summary>
    internal sealed class DelimiterScanner
    {
        private readonly byte[] _delimiter;
        /// <summary>The last delimiter-length-1 bytes seen, then the first bytes of the next chunk: where a straddling occurrence lies.</summary>
        private readonly byte[] _edge;
        private int _carried;

        public DelimiterScanner(byte[] delimiter)
        {
            if (delimiter == null || delimiter.Length == 0) throw new ArgumentException("The delimiter must not be empty.", nameof(delimiter));
            _delimiter = delimiter;
            _edge = new byte[2 * (delimiter.Length - 1)];
        }

        public bool Found(byte[] chunk, int count)
        {
            var tail = _delimiter.Length - 1;
            // An occurrence that starts in what came before ends within the chunk's first delimiter-length-1 bytes.
            var head = Math.Min(count, tail);
            Buffer.BlockCopy(chunk, 0, _edge, _carried, head);
            var edgeLength = _carried + head;
            if (_carried > 0 && IndexOf(_edge, edgeLength) >= 0)
            {
                return true;
            }

            if (IndexOf(chunk, count) >= 0)
            {
                return true;
            }

            // Carry the last delimiter-length-1 bytes of everything seen so far (the chunk may be shorter than that).
            if (count >= tail)
            {
                Buffer.BlockCopy(chunk, count - tail, _edge, 0, tail);
                _carried = tail;
            }
            else
            {
                _carried = Math.Min(tail, edgeLength);
                Buffer.BlockCopy(_edge, edgeLength - _carried, _edge, 0, _carried);
            }

            return false;
        }

        private int IndexOf(byte[] data, int length)
        {
            var first = _delimiter[0];
            var last = length - _delimiter.Length;
            var i = 0;
            while (i <= last)
            {
                // Array.IndexOf is vectorised on .NET (Core), so the search skips ahead at memory speed between candidates.
                i = Array.IndexOf(data, first, i, last - i + 1);
                if (i < 0)
                {
                    return -1;
                }

                var j = 1;
                while (j < _delimiter.Length && data[i + j] == _delimiter[j])
                {
                    j++;
                }

                if (j == _delimiter.Length)
                {
                    return i;
                }

                i++;
            }

            return -1;
        }
    }

    /// <summary>A write-only sink that feeds everything written into a signature base.</summary>
    internal sealed class SignatureBaseStream : Stream
    {
        private readonly FloydSignatureBase _signatureBase;

        public SignatureBaseStream(FloydSignatureBase signatureBase) => _signatureBase = signatureBase;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _signatureBase.BodyLength;
        public override long Position { get => _signatureBase.BodyLength; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => _signatureBase.AppendBody(buffer, offset, count);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _signatureBase.AppendBody(buffer, offset, count);
            return Task.CompletedTask;
        }

        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
