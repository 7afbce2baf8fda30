using System.Diagnostics;
using Microsoft.Data.Sqlite;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>
/// The SQLite store checkpoints its write-ahead log beside the writers, not inside their commits. These tests read the
/// files themselves: what reached the database file (a copy of it opened without its log), how large the log grew, and
/// what a crash in the middle of a checkpoint leaves behind. None of them asserts a duration; waits end on the event.
/// </summary>
public sealed class WalCheckpointTests
{
    private const int PageSize = 4096;
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Only SQLite's automatic checkpoint, at <paramref name="fallbackPages"/>: the background one never starts.</summary>
    private static WalCheckpointPolicy WritersOnly(int fallbackPages, long walSizeLimitBytes = -1) =>
        new(pagesBeforeCheckpoint: int.MaxValue, idleDelay: Timeout.InfiniteTimeSpan, writerFallbackPages: fallbackPages, walSizeLimitBytes);

    [Fact]
    public async Task A_commit_that_takes_the_log_past_1000_pages_does_not_checkpoint_inside_itself()
    {
        using var scope = new StoreScope();
        using var store = OpenWithSchemaInFile(scope, WritersOnly(WalCheckpointPolicy.Default.WriterFallbackPages));
        using var keeper = KeepOpen(scope);

        // 80 snapshots of 64 KiB: about 1,300 pages of log, past SQLite's default checkpoint at 1,000.
        await SaveSnapshotsAsync(store, 80);

        Assert.True(WalFrames(scope.StorePath) > 1000, $"the log should hold more than 1000 pages, it holds {WalFrames(scope.StorePath)}");
        Assert.Equal(0L, SnapshotsInDatabaseFile(scope));
    }

    [Fact]
    public async Task The_log_stays_bounded_by_the_writers_fallback_checkpoint_when_no_background_checkpoint_runs()
    {
        using var scope = new StoreScope();
        using var store = OpenWithSchemaInFile(scope, WritersOnly(fallbackPages: 200, walSizeLimitBytes: 1024 * 1024));
        using var keeper = KeepOpen(scope);

        // 300 snapshots of 64 KiB: about 5,000 pages, 20 MiB of log if nothing checkpointed.
        await SaveSnapshotsAsync(store, 300);

        var walBytes = new FileInfo(scope.StorePath + "-wal").Length;
        Assert.True(walBytes <= 2 * 1024 * 1024, $"the log grew to {walBytes} bytes");
        Assert.Equal(300L, await CountSnapshotsAsync(store));
        Assert.True(SnapshotsInDatabaseFile(scope) > 0, "the fallback checkpoints should have copied snapshots into the database file");
    }

    [Fact]
    public async Task Writes_are_checkpointed_into_the_database_file_after_they_stop_while_the_store_stays_open()
    {
        using var scope = new StoreScope();
        var policy = new WalCheckpointPolicy(pagesBeforeCheckpoint: int.MaxValue, idleDelay: TimeSpan.FromMilliseconds(200), writerFallbackPages: 10000, walSizeLimitBytes: -1);
        using var store = OpenWithSchemaInFile(scope, policy);
        using var keeper = KeepOpen(scope);

        await SaveSnapshotsAsync(store, 3);

        // Nothing else writes or closes the store: only the idle checkpoint can bring the rows into the file.
        Assert.True(await EventuallyAsync(() => SnapshotsInDatabaseFile(scope) == 3), "the snapshots never reached the database file");
        Assert.True(File.Exists(scope.StorePath + "-wal"), "the store is still open, so its log is still there");
    }

    [Fact]
    public async Task A_stream_of_writes_is_checkpointed_in_the_background_once_the_log_passes_the_threshold()
    {
        using var scope = new StoreScope();
        var policy = new WalCheckpointPolicy(pagesBeforeCheckpoint: 100, idleDelay: Timeout.InfiniteTimeSpan, writerFallbackPages: 100000, walSizeLimitBytes: -1);
        using var store = OpenWithSchemaInFile(scope, policy);
        using var keeper = KeepOpen(scope);

        // 40 snapshots: about 650 pages, far below the writers' fallback, so any checkpoint is the background one.
        await SaveSnapshotsAsync(store, 40);

        Assert.True(await EventuallyAsync(() => SnapshotsInDatabaseFile(scope) > 0), "no snapshot reached the database file");
    }

    [Fact]
    public async Task A_crash_in_the_middle_of_a_checkpoint_loses_no_commit()
    {
        using var scope = new StoreScope();
        var policy = new WalCheckpointPolicy(pagesBeforeCheckpoint: int.MaxValue, idleDelay: TimeSpan.FromMilliseconds(200), writerFallbackPages: 100000, walSizeLimitBytes: -1);
        using (var first = SqliteReleaseStore.Open(scope.StorePath))
        {
            await first.RegisterInstancesAsync(Enumerable.Range(0, 2000).Select(i => StoreSamples.Instance($"orders-{i}")).ToList(), None);
        }

        using var store = SqliteReleaseStore.Open(scope.StorePath, () => scope.Clock.Now, policy);
        using var keeper = KeepOpen(scope);
        byte[] before;
        byte[] log;
        // A reader that began before the writes keeps every checkpoint from copying them until it ends, so the files can
        // be taken as they are before the checkpoint: the database file without the commits, the log with all of them.
        using (var reader = scope.Raw())
        {
            using (var begin = reader.CreateCommand())
            {
                begin.CommandText = "BEGIN; SELECT count(*) FROM instances;";
                begin.ExecuteScalar();
            }

            await store.RegisterInstancesAsync(Enumerable.Range(2000, 3000).Select(i => StoreSamples.Instance($"billing-{i}", service: "billing")).ToList(), None);
            await SaveSnapshotsAsync(store, 20);
            before = File.ReadAllBytes(scope.StorePath);
            log = File.ReadAllBytes(scope.StorePath + "-wal");
            Assert.Equal(0L, SnapshotsInDatabaseFile(scope));
            using var commit = reader.CreateCommand();
            commit.CommandText = "COMMIT";
            commit.ExecuteNonQuery();
        }

        Assert.True(await EventuallyAsync(() => SnapshotsInDatabaseFile(scope) == 20), "the background checkpoint never copied the snapshots");
        var after = File.ReadAllBytes(scope.StorePath);
        Assert.True(after.Length > before.Length, "the checkpoint should have grown the database file");

        // A checkpoint stopped half-way: the first half of the file's pages already copied, the rest as they were before,
        // and the log (synced before a checkpoint copies anything) with every frame. No -shm: the process died with it.
        var torn = new byte[after.Length];
        var half = after.Length / PageSize / 2 * PageSize;
        Array.Copy(after, torn, half);
        if (before.Length > half)
        {
            Array.Copy(before, half, torn, half, Math.Min(before.Length, after.Length) - half);
        }
        var crashed = scope.Directory.Combine("crashed.db");
        File.WriteAllBytes(crashed, torn);
        File.WriteAllBytes(crashed + "-wal", log);

        using var reopened = SqliteReleaseStore.Open(crashed);

        Assert.Equal(2000, (await reopened.FindInstancesAsync(new InstanceQuery { Services = new[] { "orders" } }, None)).Count);
        Assert.Equal(3000, (await reopened.FindInstancesAsync(new InstanceQuery { Services = new[] { "billing" } }, None)).Count);
        Assert.Equal(20L, await CountSnapshotsAsync(reopened));
        Assert.Equal("ok", scope.Scalar("PRAGMA integrity_check", crashed));
    }

    /// <summary>
    /// Creates the store and closes it, which checkpoints the schema into the file, then opens it with <paramref name="policy"/>:
    /// every later row is in the file only if a checkpoint put it there.
    /// </summary>
    private static SqliteReleaseStore OpenWithSchemaInFile(StoreScope scope, WalCheckpointPolicy policy)
    {
        SqliteReleaseStore.Open(scope.StorePath).Dispose();
        Assert.Equal(0L, SnapshotsInDatabaseFile(scope));
        return SqliteReleaseStore.Open(scope.StorePath, () => scope.Clock.Now, policy);
    }

    /// <summary>
    /// A connection of the test's own, outside every pool, open until the test ends. Other tests clear all pools
    /// (SqliteConnection.ClearAllPools); were the store's pooled handles the last connections to the file, closing them
    /// would checkpoint the log and delete it, and these tests would see that checkpoint instead of the store's.
    /// </summary>
    private static SqliteConnection KeepOpen(StoreScope scope)
    {
        var connection = scope.Raw();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master";
        command.ExecuteScalar();
        return connection;
    }

    private static async Task SaveSnapshotsAsync(SqliteReleaseStore store, int count)
    {
        var content = new byte[64 * 1024];
        for (var i = 0; i < count; i++)
        {
            new Random(i).NextBytes(content);
            await store.SaveConfigSnapshotAsync($"digest-{i:D4}", "appsettings.json", content, None);
        }
    }

    private static async Task<long> CountSnapshotsAsync(SqliteReleaseStore store)
    {
        var found = 0L;
        for (var i = 0; await store.GetConfigSnapshotAsync($"digest-{i:D4}", None) is not null; i++)
        {
            found++;
        }

        return found;
    }

    /// <summary>Frames in the log, from the WAL index header in the -shm file (mxFrame, native byte order).</summary>
    private static long WalFrames(string storePath)
    {
        using var shm = new FileStream(storePath + "-shm", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var header = new byte[48];
        shm.ReadExactly(header);
        return BitConverter.ToUInt32(header, 16);
    }

    /// <summary>Snapshots in the database file alone: a copy of it opened without the log, as if the log were lost.</summary>
    private static long SnapshotsInDatabaseFile(StoreScope scope)
    {
        var copy = scope.Directory.Combine("file-only-" + Guid.NewGuid().ToString("N") + ".db");
        File.Copy(scope.StorePath, copy);
        try
        {
            return (long)scope.Scalar("SELECT count(*) FROM config_snapshots", copy)!;
        }
        catch (SqliteException)
        {
            // Copied while a checkpoint was writing it, or before the schema reached the file.
            return -1;
        }
        finally
        {
            foreach (var file in new[] { copy, copy + "-wal", copy + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Patience)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }
}
