using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Agent.Hosting;

/// <summary>
/// Gives the requests the HTTP server refuses before the agent's code sees them (an unreadable request line or header,
/// a request target or headers over the limits, another HTTP version, headers that do not arrive in time) the JSON error
/// body of docs/floyd-protocol.md section 6. The server answers those with an empty body and closes the connection, and
/// offers no hook to change that answer, so a connection middleware rewrites it on its way out: a response head with
/// status 400 or more, <c>Content-Length: 0</c> and no <c>Floyd-Protocol</c> header (which the agent puts on every
/// answer of its own) is the server's, and leaves with the JSON body instead.
/// </summary>
public sealed class ServerRejections
{
    private readonly Dictionary<int, (string Code, byte[] Body)> _answers = new();
    private readonly (string Code, byte[] Body) _otherClientError;
    private readonly (string Code, byte[] Body) _otherServerError;

    private readonly Action<int, string> _rejected;

    /// <param name="limits">The server's limits, which the messages name.</param>
    /// <param name="rejected">Called with the status and error code of each rewritten answer (the agent logs and counts them).</param>
    public ServerRejections(KestrelServerLimits limits, Action<int, string> rejected)
    {
        _rejected = rejected;
        Add(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest,
            "The agent cannot read this request: its request line, a header or its framing is not valid HTTP/1.1. Nothing was done; send a well-formed request.");
        Add(StatusCodes.Status405MethodNotAllowed, FloydErrorCodes.NotFound,
            "No Floyd endpoint takes a request of this form; the protocol's requests are GET or POST with a path (section 5).");
        Add(StatusCodes.Status408RequestTimeout, FloydErrorCodes.RequestTimeout,
            $"The request's headers did not arrive within {limits.RequestHeadersTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s. Nothing was done; send the request again.");
        Add(StatusCodes.Status413PayloadTooLarge, FloydErrorCodes.BodyTooLarge,
            "The body is larger than this agent accepts.");
        Add(StatusCodes.Status414UriTooLong, FloydErrorCodes.RequestTargetTooLong,
            $"The request line is longer than this agent accepts ({limits.MaxRequestLineSize} bytes). Nothing was done.");
        Add(StatusCodes.Status431RequestHeaderFieldsTooLarge, FloydErrorCodes.HeadersTooLarge,
            $"The request headers are larger than this agent accepts (at most {limits.MaxRequestHeaderCount} headers of {limits.MaxRequestHeadersTotalSize} bytes in all). Nothing was done.");
        Add(StatusCodes.Status505HttpVersionNotsupported, FloydErrorCodes.HttpVersionNotSupported,
            "The Floyd agent speaks HTTP/1.1 only (HTTP/1.0 is read too); this request used another HTTP version. Nothing was done.");
        _otherClientError = Answer(FloydErrorCodes.InvalidRequest,
            "The agent cannot read this request as valid HTTP/1.1. Nothing was done; send a well-formed request.");
        _otherServerError = Answer(FloydErrorCodes.InternalError, "The agent failed unexpectedly; see its log.");

        void Add(int status, string code, string message) => _answers[status] = Answer(code, message);

        static (string, byte[]) Answer(string code, string message) =>
            (code, JsonSerializer.SerializeToUtf8Bytes(new ErrorBody { Error = code, Message = message }, AgentJson.Wire));
    }

    /// <summary>The error code and JSON body the agent sends for a refusal of the server's with <paramref name="status"/>.</summary>
    public (string Code, byte[] Body) For(int status) =>
        _answers.TryGetValue(status, out var answer) ? answer : status >= 500 ? _otherServerError : _otherClientError;

    /// <summary>The connection middleware: put it after TLS (it must read the plain HTTP the server writes).</summary>
    public ConnectionDelegate Middleware(ConnectionDelegate next) => async connection =>
    {
        var transport = connection.Transport;
        var output = new RejectionRewritingWriter(transport.Output, this);
        connection.Transport = new RewrittenTransport(transport.Input, output);
        try
        {
            await next(connection);
        }
        finally
        {
            connection.Transport = transport;
        }
    };

    private sealed class RewrittenTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>
    /// Holds what the server writes until it flushes, then passes it on, unless it is exactly the head of a refusal of the
    /// server's own: that is replaced by the same head with the JSON body. The server writes a refusal's head in one flush
    /// and nothing after it but the end of the connection. Holding until the flush (rather than deciding after the first
    /// bytes) keeps the buffer contract the server relies on: it goes on writing into memory it was given after advancing
    /// past part of it. The agent's answers are small JSON documents, so holding one costs a copy of a few hundred bytes.
    /// A rejected HEAD request gets the body too (the method of a request the server could not read is not known here);
    /// the connection closes after it, so no later response can be misread.
    /// </summary>
    private sealed class RejectionRewritingWriter : PipeWriter
    {
        private const int InitialBufferBytes = 4096;
        private static ReadOnlySpan<byte> StatusLinePrefix => "HTTP/1.1 "u8;
        private static ReadOnlySpan<byte> EndOfHead => "\r\n\r\n"u8;

        private readonly PipeWriter _inner;
        private readonly ServerRejections _rejections;
        private byte[] _held = new byte[InitialBufferBytes];
        private int _heldLength;

        public RejectionRewritingWriter(PipeWriter inner, ServerRejections rejections)
        {
            _inner = inner;
            _rejections = rejections;
        }

        public override bool CanGetUnflushedBytes => _inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => _heldLength + _inner.UnflushedBytes;

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            var needed = Math.Max(sizeHint, 256);
            if (_held.Length - _heldLength < needed)
            {
                Array.Resize(ref _held, Math.Max(_held.Length * 2, _heldLength + needed));
            }

            return _held.AsMemory(_heldLength);
        }

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override void Advance(int bytes) => _heldLength += bytes;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            PassOn();
            return _inner.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => _inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            if (exception == null)
            {
                PassOn();
            }

            _inner.Complete(exception);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            if (exception == null)
            {
                PassOn();
            }

            await _inner.CompleteAsync(exception);
        }

        private void PassOn()
        {
            if (_heldLength == 0)
            {
                return;
            }

            if (IsRefusalHead())
            {
                Replace();
            }
            else
            {
                _inner.Write(_held.AsSpan(0, _heldLength));
            }

            _heldLength = 0;
            if (_held.Length > 16 * InitialBufferBytes)
            {
                // A large answer (the metrics, say) does not keep its buffer for the connection's life.
                _held = new byte[InitialBufferBytes];
            }
        }

        /// <summary>
        /// True when the held bytes are one response head and nothing more, with a status of 400 or more,
        /// <c>Content-Length: 0</c>, and no <c>Floyd-Protocol</c> header (the agent's own answers all carry it).
        /// </summary>
        private bool IsRefusalHead()
        {
            var held = _held.AsSpan(0, _heldLength);
            if (!held.StartsWith(StatusLinePrefix) || held.Length <= StatusLinePrefix.Length ||
                held[StatusLinePrefix.Length] is not ((byte)'4' or (byte)'5') ||
                held.IndexOf(EndOfHead) != held.Length - EndOfHead.Length)
            {
                return false;
            }

            var emptyBody = false;
            foreach (var line in Encoding.ASCII.GetString(held[..^EndOfHead.Length]).Split("\r\n").Skip(1))
            {
                var colon = line.IndexOf(':');
                var name = colon < 0 ? line : line[..colon];
                if (name.Equals(FloydProtocol.ProtocolHeader, StringComparison.OrdinalIgnoreCase) ||
                    name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }

                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    emptyBody = line[(colon + 1)..].Trim() == "0";
                }
            }

            return emptyBody;
        }

        /// <summary>Writes the held head as the server's refusal with the JSON body: its status line and headers but its length.</summary>
        private void Replace()
        {
            var head = Encoding.ASCII.GetString(_held, 0, _heldLength - EndOfHead.Length).Split("\r\n");
            var status = int.Parse(head[0].AsSpan(StatusLinePrefix.Length, 3), System.Globalization.CultureInfo.InvariantCulture);
            var (code, body) = _rejections.For(status);
            var text = new StringBuilder(head[0]).Append("\r\n");
            foreach (var line in head.Skip(1).Where(l => !l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)))
            {
                text.Append(line).Append("\r\n");
            }

            text.Append("Content-Type: application/json; charset=utf-8\r\n")
                .Append("Content-Length: ").Append(body.Length).Append("\r\n")
                .Append(FloydProtocol.ProtocolHeader).Append(": ").Append(FloydProtocol.Version).Append("\r\n\r\n");
            _inner.Write(Encoding.ASCII.GetBytes(text.ToString()));
            _inner.Write(body);
            _rejections._rejected(status, code);
        }
    }
}
