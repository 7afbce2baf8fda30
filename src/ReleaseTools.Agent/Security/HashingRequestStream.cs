using System.Buffers;
using System.Runtime.InteropServices;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Security;

/// <summary>Feeds every byte read from the request body into the signature base, so a body is verified as it streams by.</summary>
public sealed class HashingRequestStream : Stream
{
    private readonly Stream _inner;
    private readonly FloydSignatureBase _signatureBase;

    public HashingRequestStream(Stream inner, FloydSignatureBase signatureBase)
    {
        _inner = inner;
        _signatureBase = signatureBase;
    }

    public long BytesRead => _signatureBase.BodyLength;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = _inner.Read(buffer, offset, count);
        _signatureBase.AppendBody(buffer, offset, read);
        return read;
    }

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        var read = await _inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken);
        _signatureBase.AppendBody(buffer, offset, read);
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await _inner.ReadAsync(buffer, cancellationToken);
        Append(buffer[..read]);
        return read;
    }

    /// <summary>Reads whatever the handler left (closing boundary, trailing bytes): the signature covers the whole body.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            while (await ReadAsync(buffer, 0, buffer.Length, cancellationToken) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Append(ReadOnlyMemory<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        if (MemoryMarshal.TryGetArray(data, out var segment))
        {
            _signatureBase.AppendBody(segment.Array!, segment.Offset, segment.Count);
            return;
        }

        var copy = ArrayPool<byte>.Shared.Rent(data.Length);
        try
        {
            data.Span.CopyTo(copy);
            _signatureBase.AppendBody(copy, 0, data.Length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
