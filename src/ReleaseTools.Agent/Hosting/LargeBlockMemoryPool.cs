using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace ReleaseTools.Agent.Hosting;

/// <summary>
/// The memory Kestrel reads sockets into, in blocks of <see cref="BlockSize"/> bytes instead of its default 4 KiB.
/// Kestrel asks its pool for one block per socket read and reads at most that much: with 4 KiB blocks, receiving a
/// 64 MiB package took 16,384 reads, each a system call plus a trip through the pipe and the request-body stream, which
/// cost the agent more CPU than the package's MD5. With 128 KiB blocks the same package takes about 512 reads.
/// Blocks are reused (Kestrel returns each when the body has been read), so an agent holds at most what its
/// connections' read buffers allow (Kestrel's MaxRequestBufferSize, 1 MiB per connection by default) plus the idle
/// blocks it kept, bounded by <see cref="MaxIdleBlocks"/>.
/// </summary>
public sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    /// <summary>128 KiB: large enough that a read is worth its system call, small enough to stay in the CPU's cache while the body is hashed.</summary>
    public const int BlockSize = 128 * 1024;

    /// <summary>At most 16 MiB kept idle for reuse; blocks beyond it go back to the garbage collector.</summary>
    public const int MaxIdleBlocks = 128;

    private readonly ConcurrentQueue<byte[]> _idle = new();
    private int _idleCount;
    private bool _disposed;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (minBufferSize > BlockSize)
        {
            // Kestrel never asks for more than MaxBufferSize; anyone who does gets an exact, unpooled array.
            return new Block(this, GC.AllocateUninitializedArray<byte>(minBufferSize, pinned: true), pooled: false);
        }

        if (_idle.TryDequeue(out var array))
        {
            Interlocked.Decrement(ref _idleCount);
        }
        else
        {
            // Pinned: the socket reads into it while the read is pending, and a pinned block is not moved by the GC.
            array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
        }

        return new Block(this, array, pooled: true);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _idle.Clear();
    }

    private void Return(byte[] array)
    {
        if (_disposed || Interlocked.Increment(ref _idleCount) > MaxIdleBlocks)
        {
            Interlocked.Decrement(ref _idleCount);
            return;
        }

        _idle.Enqueue(array);
    }

    private sealed class Block(LargeBlockMemoryPool pool, byte[] array, bool pooled) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

        public void Dispose()
        {
            var array = Interlocked.Exchange(ref _array, null);
            if (array != null && pooled)
            {
                pool.Return(array);
            }
        }
    }

    /// <summary>Registered in the agent's services: Kestrel's socket transport asks it for the pool of its connections.</summary>
    public sealed class Factory : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool();
    }
}
