using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

public sealed class StoreOpeningTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public void Opening_a_missing_path_creates_the_folder_and_a_current_schema_in_wal_mode()
    {
        using var scope = new StoreScope();

        _ = scope.Store;

        Assert.True(File.Exists(scope.StorePath));
        Assert.Equal((long)StoreMigrations.LatestVersion, scope.Scalar("PRAGMA user_version"));
        Assert.Equal((long)StoreMigrations.ApplicationId, scope.Scalar("PRAGMA application_id"));
        Assert.Equal("wal", scope.Scalar("PRAGMA journal_mode"));
        Assert.Equal(1L, scope.Scalar($"SELECT count(*) FROM sqlite_master WHERE name = '{StoreMigrations.MarkerTable}'"));
    }

    [Fact]
    public async Task An_empty_file_becomes_a_store()
    {
        using var scope = new StoreScope();
        Directory.CreateDirectory(Path.GetDirectoryName(scope.StorePath)!);
        File.WriteAllBytes(scope.StorePath, Array.Empty<byte>());

        await scope.Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);

        Assert.Equal((long)StoreMigrations.LatestVersion, scope.Scalar("PRAGMA user_version"));
        Assert.NotNull(await scope.Store.GetInstanceAsync("orders-1", None));
    }

    [Fact]
    public async Task Reopening_a_store_keeps_its_data_and_runs_no_migration_again()
    {
        using var scope = new StoreScope();
        await scope.Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        scope.CloseAll();
        var migrationsRecorded = scope.Scalar("SELECT value FROM releasetools_store WHERE key = 'format'");

        using var reopened = scope.Open();

        Assert.Equal("orders-1", (await reopened.GetInstanceAsync("orders-1", None))!.InstanceId);
        Assert.Equal(migrationsRecorded, scope.Scalar("SELECT value FROM releasetools_store WHERE key = 'format'"));
        Assert.Equal((long)StoreMigrations.LatestVersion, scope.Scalar("PRAGMA user_version"));
    }

    [Fact]
    public async Task A_store_written_with_schema_1_is_migrated_with_its_data_intact()
    {
        using var scope = new StoreScope();
        SqliteReleaseStore.OpenAtSchema(scope.StorePath, () => scope.Clock.Now, 1).Dispose();
        scope.CloseAll();
        Assert.Equal(1L, scope.Scalar("PRAGMA user_version"));
        // Rows exactly as a release with schema 1 wrote them.
        scope.Execute(@"
INSERT INTO instances (instance_id, service, environment, host, port, tags, version, fversion, status, updated_at)
VALUES ('orders-1', 'orders', 'prod', 'orders-1.example.test', 8080, '[""blue""]', '1.1.0', '1.1.0+f1', 'active', 1795000000000);
INSERT INTO deployments (deployment_id, operation, service, target_version, initiated_by, initiated_from, batch_count, status, created_at, owner_host, owner_process_id)
VALUES ('d-20261101-100000-abcdef', 'deploy', 'orders', '1.1.0', 'alice', 'build-host', 1, 'running', 1795000000000, 'build-host', 4242);
INSERT INTO version_history (instance_id, service, environment, version, fversion, previous_version, previous_fversion, deployment_id, operation, recorded_at)
VALUES ('orders-1', 'orders', 'prod', '1.0.0', '1.0.0+f1', NULL, NULL, 'd-20261001-100000-000001', 'deploy', 1790000000000),
       ('orders-1', 'orders', 'prod', '1.1.0', '1.1.0+f1', '1.0.0', '1.0.0+f1', 'd-20261101-100000-abcdef', 'deploy', 1795000000000);
INSERT INTO instance_leases (instance_id, deployment_id, host_name, process_id, acquired_at, heartbeat_at, expires_at)
VALUES ('orders-1', 'd-20261101-100000-abcdef', 'build-host', 4242, 1795000000000, 1795000000000, 1795000060000);");

        using var store = scope.Open();

        Assert.Equal((long)StoreMigrations.LatestVersion, scope.Scalar("PRAGMA user_version"));
        Assert.Equal(1L, scope.Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'ix_instances_service_version'"));
        Assert.Equal(0L, scope.Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'ix_instances_service'"));
        Assert.Equal(1L, scope.Scalar("SELECT count(*) FROM pragma_table_info('instance_leases') WHERE name = 'process_started_at'"));

        var instance = Assert.Single(await store.FindInstancesAsync(new InstanceQuery { Services = new[] { "orders" }, Version = "1.1.0" }, None));
        Assert.Equal(new[] { "blue" }, instance.Tags);
        Assert.Equal("1.1.0+f1", instance.FVersion);
        var history = await store.GetHistoryAsync("orders-1", 10, None);
        Assert.Equal(new[] { "1.1.0", "1.0.0" }, history.Select(h => h.Version));
        Assert.Equal("1.0.0", history[0].PreviousVersion);
        // The version catalogue added by schema 2 is filled from the history schema 1 kept.
        Assert.Equal(new[] { "1.0.0", "1.1.0" }, await store.GetVersionsAsync("orders", None));
        var lease = Assert.Single(await store.GetLeasesAsync(new[] { "orders-1" }, None));
        Assert.Equal(4242, lease.Owner.ProcessId);
        Assert.Null(lease.Owner.ProcessStartedAt);
        Assert.Equal(DeploymentStatus.Running, (await store.GetDeploymentAsync("d-20261101-100000-abcdef", None))!.Status);
    }

    [Fact]
    public async Task A_store_left_with_an_unmerged_wal_by_a_crashed_process_opens_with_all_its_data()
    {
        using var scope = new StoreScope();
        // A process that crashed before any checkpoint: without this, the store's background checkpoint (a second after
        // the last write) may already have merged the log when a loaded machine gets to the copy.
        var noCheckpoint = new WalCheckpointPolicy(pagesBeforeCheckpoint: int.MaxValue, idleDelay: Timeout.InfiniteTimeSpan, writerFallbackPages: 100000, walSizeLimitBytes: -1);
        var crashed = scope.Directory.Combine("crashed.db");
        using (var store = SqliteReleaseStore.Open(scope.StorePath, () => scope.Clock.Now, noCheckpoint))
        {
            await store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
            // Copy the files while the store is open, as a crash would leave them: the schema and the row live only in
            // the -wal file, and there is no -shm.
            File.Copy(scope.StorePath, crashed);
            File.Copy(scope.StorePath + "-wal", crashed + "-wal");
        }

        Assert.True(new FileInfo(crashed + "-wal").Length > 0, "the copied store should still have its changes in the WAL");
        // The main file's header does not carry the ReleaseTools mark yet; only reading through the WAL shows it.
        Assert.Equal(new byte[4], File.ReadAllBytes(crashed)[68..72]);

        using var reopened = SqliteReleaseStore.Open(crashed);

        Assert.Equal("orders-1", (await reopened.GetInstanceAsync("orders-1", None))!.InstanceId);
    }

    [Fact]
    public void Random_bytes_are_rejected_as_corrupt_and_left_untouched()
    {
        using var scope = new StoreScope();
        var bytes = new byte[16384];
        new Random(3).NextBytes(bytes);
        var path = scope.Directory.WriteFile("random.db", bytes);

        AssertRejectedUntouched(path, StoreErrorIds.StoreCorrupt);
    }

    [Fact]
    public void A_text_file_is_rejected_and_left_untouched()
    {
        using var scope = new StoreScope();
        var path = scope.Directory.WriteFile("notes.txt", string.Join("\n", Enumerable.Repeat("deploy orders 2.0.0 to prod on friday", 200)));

        AssertRejectedUntouched(path, StoreErrorIds.StoreCorrupt);
    }

    [Fact]
    public async Task A_truncated_store_is_rejected_as_corrupt_and_left_untouched()
    {
        using var scope = new StoreScope();
        await scope.Store.RegisterInstancesAsync(Enumerable.Range(0, 3000).Select(i => StoreSamples.Instance($"orders-{i}")).ToList(), None);
        scope.CloseAll();
        var full = File.ReadAllBytes(scope.StorePath);
        Assert.True(full.Length > 64 * 1024, "the store should span many pages");
        File.WriteAllBytes(scope.StorePath, full.AsSpan(0, full.Length / 3).ToArray());

        AssertRejectedUntouched(scope.StorePath, StoreErrorIds.StoreCorrupt);
    }

    [Fact]
    public async Task A_store_whose_first_page_was_overwritten_is_rejected_as_corrupt_and_left_untouched()
    {
        using var scope = new StoreScope();
        await scope.Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        scope.CloseAll();
        var bytes = File.ReadAllBytes(scope.StorePath);
        // Keep the 100-byte header, destroy the schema table that follows it on page 1.
        new Random(5).NextBytes(bytes.AsSpan(100, 3900));
        File.WriteAllBytes(scope.StorePath, bytes);

        AssertRejectedUntouched(scope.StorePath, StoreErrorIds.StoreCorrupt);
    }

    [Fact]
    public void A_sqlite_database_of_another_application_is_rejected_as_foreign_and_left_untouched()
    {
        using var scope = new StoreScope();
        var path = scope.Directory.Combine("crm.db");
        scope.Execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('Contoso');", path);

        var error = AssertRejectedUntouched(path, StoreErrorIds.StoreForeign);
        Assert.Contains("another application", error.Message);
    }

    [Fact]
    public void A_sqlite_database_stamped_with_another_application_id_is_rejected_even_when_empty()
    {
        using var scope = new StoreScope();
        var path = scope.Directory.Combine("other.db");
        scope.Execute("PRAGMA application_id = 1234; CREATE TABLE t (x);", path);

        var error = AssertRejectedUntouched(path, StoreErrorIds.StoreForeign);
        Assert.Contains("0x000004D2", error.Message);
    }

    [Fact]
    public async Task A_store_of_a_newer_schema_is_rejected_and_left_untouched()
    {
        using var scope = new StoreScope();
        await scope.Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        scope.CloseAll();
        scope.Execute($"PRAGMA user_version = {StoreMigrations.LatestVersion + 1}");

        var error = AssertRejectedUntouched(scope.StorePath, StoreErrorIds.StoreNewerSchema);
        Assert.Contains("newer release", error.Message);
    }

    [Fact]
    public void A_folder_given_as_the_store_path_is_reported()
    {
        using var scope = new StoreScope();
        var folder = scope.Directory.CreateDirectory("a-folder");

        var error = Assert.Throws<StoreException>(() => SqliteReleaseStore.Open(folder));

        Assert.Equal(StoreErrorIds.StoreUnavailable, error.ErrorId);
        Assert.Contains(folder, error.Message);
    }

    [Fact]
    public void Native_sqlite_is_initialised_once_from_many_threads_and_supports_the_sql_the_store_uses()
    {
        Parallel.For(0, 16, _ => SqliteRuntime.EnsureInitialized());

        // UPDATE ... FROM needs 3.33 and json_each must be compiled in; both are used by the store.
        Assert.True(SQLitePCL.raw.sqlite3_libversion_number() >= 3_033_000, $"SQLite {SQLitePCL.raw.sqlite3_libversion().utf8_to_string()} is too old");
    }

    private static StoreException AssertRejectedUntouched(string path, string errorId)
    {
        var before = StoreScope.Hash(path);
        var siblingsBefore = Directory.GetFiles(Path.GetDirectoryName(path)!).Order().ToArray();

        var error = Assert.Throws<StoreException>(() => SqliteReleaseStore.Open(path));

        Assert.Equal(errorId, error.ErrorId);
        Assert.Equal(Path.GetFullPath(path), error.Path);
        Assert.Contains(Path.GetFullPath(path), error.Message);
        Assert.Contains("left untouched", error.Message);
        Assert.Equal(before, StoreScope.Hash(path));
        Assert.Equal(siblingsBefore, Directory.GetFiles(Path.GetDirectoryName(path)!).Order().ToArray());
        return error;
    }
}
