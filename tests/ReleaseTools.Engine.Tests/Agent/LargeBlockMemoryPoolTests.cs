using System.Buffers;
using System.Net.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using ReleaseTools.Agent.Hosting;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void A_block_is_the_large_size_and_comes_back_for_reuse()
    {
        using var pool = new LargeBlockMemoryPool();
        var first = pool.Rent(4096);
        Assert.Equal(LargeBlockMemoryPool.BlockSize, first.Memory.Length);
        first.Memory.Span[0] = 42;
        first.Dispose();

        using var second = pool.Rent();
        Assert.Equal(LargeBlockMemoryPool.BlockSize, second.Memory.Length);
        Assert.Equal(42, second.Memory.Span[0]);
    }

    [Fact]
    public void A_request_beyond_the_block_size_gets_an_exact_block_that_is_not_kept()
    {
        using var pool = new LargeBlockMemoryPool();
        var large = pool.Rent(LargeBlockMemoryPool.BlockSize + 1);
        Assert.Equal(LargeBlockMemoryPool.BlockSize + 1, large.Memory.Length);
        large.Memory.Span[0] = 7;
        large.Dispose();

        using var next = pool.Rent();
        Assert.Equal(LargeBlockMemoryPool.BlockSize, next.Memory.Length);
    }

    [Fact]
    public void A_block_given_back_twice_is_kept_once()
    {
        using var pool = new LargeBlockMemoryPool();
        var block = pool.Rent();
        block.Memory.Span[0] = 1;
        block.Dispose();
        block.Dispose();

        using var a = pool.Rent();
        using var b = pool.Rent();
        a.Memory.Span[0] = 5;
        Assert.NotEqual(5, b.Memory.Span[0]);
        Assert.Throws<ObjectDisposedException>(() => block.Memory);
    }

    [Fact]
    public void At_most_the_idle_limit_is_kept()
    {
        using var pool = new LargeBlockMemoryPool();
        var blocks = Enumerable.Range(0, LargeBlockMemoryPool.MaxIdleBlocks + 10).Select(_ => pool.Rent()).ToList();
        var arrays = new HashSet<byte[]>();
        foreach (var block in blocks)
        {
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment));
            arrays.Add(segment.Array!);
            block.Dispose();
        }

        var reused = 0;
        var again = Enumerable.Range(0, LargeBlockMemoryPool.MaxIdleBlocks + 10).Select(_ => pool.Rent()).ToList();
        foreach (var block in again)
        {
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment));
            reused += arrays.Contains(segment.Array!) ? 1 : 0;
            block.Dispose();
        }

        Assert.Equal(LargeBlockMemoryPool.MaxIdleBlocks, reused);
    }

    [Fact]
    public void A_disposed_pool_rents_nothing()
    {
        var pool = new LargeBlockMemoryPool();
        var block = pool.Rent();
        pool.Dispose();
        block.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
    }

    /// <summary>
    /// The agent's server reads a request body in pieces larger than Kestrel's own 4 KiB blocks: the largest piece a
    /// 4 MiB upload arrives in is bigger than 4 KiB, which Kestrel's default pool can never give.
    /// </summary>
    [Fact]
    public async Task The_agent_reads_a_request_body_in_pieces_larger_than_4_KiB()
    {
        var largest = 0L;
        var total = 0L;
        await using var harness = await AgentHarness.StartAsync(beforeFloyd: app => app.Use(async (context, next) =>
        {
            if (context.Request.Path != "/probe-read-size")
            {
                await next(context);
                return;
            }

            while (true)
            {
                var result = await context.Request.BodyReader.ReadAsync(context.RequestAborted);
                foreach (var segment in result.Buffer)
                {
                    largest = Math.Max(largest, segment.Length);
                }

                total += result.Buffer.Length;
                context.Request.BodyReader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            context.Response.StatusCode = StatusCodes.Status204NoContent;
        }));

        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        var body = new byte[4 * 1024 * 1024];
        using var response = await http.PostAsync(new Uri(harness.Agent.BaseUri, "/probe-read-size"), new ByteArrayContent(body));

        Assert.Equal(System.Net.HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(body.Length, total);
        Assert.True(largest > 4096, $"The largest piece of the body was {largest} bytes: the server still reads 4 KiB at a time.");
    }
}
