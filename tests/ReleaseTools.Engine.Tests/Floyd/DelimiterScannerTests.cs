using System.Text;
using ReleaseTools.Engine.Floyd;
using Xunit;

namespace ReleaseTools.Engine.Tests.Floyd;

public sealed class DelimiterScannerTests
{
    private static readonly byte[] Delimiter = Encoding.ASCII.GetBytes("--floyd-0123456789abcdef");

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(23)]
    [InlineData(24)]
    [InlineData(25)]
    [InlineData(4096)]
    [InlineData(60_000)]
    public void The_delimiter_is_found_wherever_it_lies_whatever_the_chunk_size(int chunkSize)
    {
        var random = new Random(chunkSize);
        foreach (var position in new[] { 0, 1, chunkSize - 1, chunkSize, 2 * chunkSize - 5, 10_000, 99_990 - Delimiter.Length })
        {
            if (position < 0 || position + Delimiter.Length > 100_000)
            {
                continue;
            }

            var data = RandomData(random, 100_000);
            Delimiter.CopyTo(data, position);
            Assert.True(Scan(data, chunkSize), $"delimiter at {position} with chunks of {chunkSize} was missed");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(23)]
    [InlineData(81920)]
    public void Data_without_the_delimiter_passes_even_when_it_holds_every_prefix_of_it(int chunkSize)
    {
        var random = new Random(chunkSize);
        var data = RandomData(random, 200_000);
        // Every proper prefix of the delimiter, including one that runs to the end of the data.
        var offset = 17;
        for (var length = 1; length < Delimiter.Length && offset + length < data.Length; length++)
        {
            Array.Copy(Delimiter, 0, data, offset, length);
            offset += length + 3 + random.Next(chunkSize + 1);
        }

        Array.Copy(Delimiter, 0, data, data.Length - (Delimiter.Length - 1), Delimiter.Length - 1);
        Assert.False(IndexOfNaive(data) >= 0, "the test data itself holds the delimiter");
        Assert.False(Scan(data, chunkSize));
    }

    [Fact]
    public void Chunks_of_varying_sizes_agree_with_a_plain_search()
    {
        var random = new Random(42);
        for (var round = 0; round < 200; round++)
        {
            var data = RandomData(random, random.Next(1, 3000));
            var expected = false;
            if (random.Next(2) == 0 && data.Length >= Delimiter.Length)
            {
                Delimiter.CopyTo(data, random.Next(data.Length - Delimiter.Length + 1));
                expected = true;
            }

            var scanner = new DelimiterScanner(Delimiter);
            var found = false;
            for (var at = 0; at < data.Length && !found;)
            {
                var count = Math.Min(data.Length - at, random.Next(1, 60));
                var chunk = new byte[count + random.Next(5)];
                Array.Copy(data, at, chunk, 0, count);
                found = scanner.Found(chunk, count);
                at += count;
            }

            Assert.Equal(expected || IndexOfNaive(data) >= 0, found);
        }
    }

    private static byte[] RandomData(Random random, int length)
    {
        var data = new byte[length];
        random.NextBytes(data);
        // Plenty of false starts: the delimiter's first byte is common in the data.
        for (var i = 0; i < length; i += 1 + random.Next(40))
        {
            data[i] = (byte)'-';
        }

        return data;
    }

    private static bool Scan(byte[] data, int chunkSize)
    {
        var scanner = new DelimiterScanner(Delimiter);
        for (var at = 0; at < data.Length; at += chunkSize)
        {
            var count = Math.Min(chunkSize, data.Length - at);
            var chunk = new byte[count];
            Array.Copy(data, at, chunk, 0, count);
            if (scanner.Found(chunk, count))
            {
                return true;
            }
        }

        return false;
    }

    private static int IndexOfNaive(byte[] data)
    {
        for (var i = 0; i + Delimiter.Length <= data.Length; i++)
        {
            if (data.AsSpan(i, Delimiter.Length).SequenceEqual(Delimiter))
            {
                return i;
            }
        }

        return -1;
    }
}
