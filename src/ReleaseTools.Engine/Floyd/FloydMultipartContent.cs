using System;
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
        private const int ChunkSize = 81920;
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
        /// When <paramref name="onFileChunk"/> is given (the signing pass), the file is also searched for the delimiter
        /// <c>--boundary</c>, across chunk edges; finding it throws <see cref="BoundaryInContentException"/>.
        /// </remarks>
        public async Task WriteBodyAsync(Stream destination, Action<byte[], int, int>? onFileChunk, CancellationToken cancellationToken, Action<long>? onFileBytesWritten = null)
        {
            await destination.WriteAsync(_preamble, 0, _preamble.Length, cancellationToken).ConfigureAwait(false);
            var buffer = new byte[ChunkSize];
            var delimiter = Encoding.ASCII.GetBytes("--" + Boundary);
            var scanner = onFileChunk == null ? null : new DelimiterScanner(delimiter);
            long copied = 0;
            using (var file = _openFile())
            {
                int read;
                while ((read = await file.ReadAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false)) > 0)
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

            await destination.WriteAsync(_epilogue, 0, _epilogue.Length, cancellationToken).ConfigureAwait(false);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            WriteBodyAsync(stream, null, SendCancellation, OnFileBytesSent);

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
        private readonly byte[] _window;
        private int _carried;

        public DelimiterScanner(byte[] delimiter)
        {
            _delimiter = delimiter;
            _window = new byte[delimiter.Length - 1 + 81920];
        }

        public bool Found(byte[] chunk, int count)
        {
            var offset = 0;
            while (offset < count)
            {
                // The window holds the last delimiter-length-1 bytes of what came before, then as much new data as fits.
                var take = Math.Min(count - offset, _window.Length - _carried);
                Buffer.BlockCopy(chunk, offset, _window, _carried, take);
                offset += take;
                var filled = _carried + take;
                if (IndexOf(_window, filled) >= 0)
                {
                    return true;
                }

                _carried = Math.Min(_delimiter.Length - 1, filled);
                Buffer.BlockCopy(_window, filled - _carried, _window, 0, _carried);
            }

            return false;
        }

        private int IndexOf(byte[] data, int length)
        {
            for (var i = 0; i + _delimiter.Length <= length; i++)
            {
                if (data[i] != _delimiter[0])
                {
                    continue;
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
