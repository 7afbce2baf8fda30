using System.IO;
using ReleaseTools.Agent.Storage;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

public sealed class EarlyWritebackTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void Writes_are_started_for_each_whole_step_and_the_rest_is_left_to_the_final_flush()
    {
        var (writeback, ranges) = Recording();

        for (var written = MiB; written <= 20 * MiB; written += MiB)
        {
            writeback.Written(written);
        }

        Assert.Equal([(0L, 8 * MiB), (8 * MiB, 8 * MiB)], ranges);
        Assert.True(writeback.Active);
    }

    [Fact]
    public void Uneven_reads_start_each_range_where_the_last_one_ended()
    {
        var (writeback, ranges) = Recording();

        foreach (var written in new[] { 5 * MiB, 9 * MiB + 3, 12 * MiB, 17 * MiB + 5 })
        {
            writeback.Written(written);
        }

        Assert.Equal([(0L, 9 * MiB + 3), (9 * MiB + 3, 8 * MiB + 2)], ranges);
    }

    [Fact]
    public void A_file_system_that_refuses_is_not_asked_again()
    {
        var calls = 0;
        var writeback = new EarlyWriteback((_, _) =>
        {
            calls++;
            return false;
        });

        writeback.Written(8 * MiB);
        writeback.Written(16 * MiB);
        writeback.Written(24 * MiB);

        Assert.Equal(1, calls);
        Assert.False(writeback.Active);
    }

    [Fact]
    public void Without_the_call_nothing_is_started()
    {
        var writeback = new EarlyWriteback(null);
        writeback.Written(64 * MiB);
        Assert.False(writeback.Active);
    }

    /// <summary>An early writeback whose kernel call only records the ranges it was asked to start.</summary>
    private static (EarlyWriteback Writeback, List<(long Offset, long Length)> Ranges) Recording()
    {
        var ranges = new List<(long Offset, long Length)>();
        return (new EarlyWriteback((offset, length) =>
        {
            ranges.Add((offset, length));
            return true;
        }), ranges);
    }

    [SkippableFact]
    public void On_Linux_a_real_file_accepts_the_early_writes_and_keeps_its_bytes()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "sync_file_range(2) is Linux's");
        var path = Path.Combine(Path.GetTempPath(), $"early-writeback-{Guid.NewGuid():N}.bin");
        var block = new byte[MiB];
        new Random(7).NextBytes(block);
        try
        {
            EarlyWriteback writeback;
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                writeback = EarlyWriteback.For(file);
                for (var written = MiB; written <= 17 * MiB; written += MiB)
                {
                    file.Write(block);
                    writeback.Written(written);
                }

                file.Flush(flushToDisk: true);
            }

            // Still active after two whole steps: the kernel took both calls (a refusal would have switched it off).
            Assert.True(writeback.Active);
            var bytes = File.ReadAllBytes(path);
            Assert.Equal(17 * MiB, bytes.Length);
            Assert.Equal(block, bytes.AsSpan(16 * (int)MiB, (int)MiB).ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
