using System.IO.Compression;
using System.Text;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Portable;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>Backup and restore as part of the store contract: the same file format and the same guarantees for every store.</summary>
public abstract class BackupContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _files = new("rt-backup");
    private readonly List<IStoreScope> _scopes = new();

    protected abstract IStoreScope CreateScope();

    private IStoreScope NewScope()
    {
        var scope = CreateScope();
        _scopes.Add(scope);
        return scope;
    }

    public void Dispose()
    {
        foreach (var scope in _scopes)
        {
            scope.Dispose();
        }

        _files.Dispose();
    }

    [SkippableFact]
    public async Task A_backup_restores_into_an_empty_store_with_every_record_and_equal_counts_and_digests()
    {
        var source = NewScope().Store;
        var deploymentId = await BackupSamples.PopulateAsync(source);
        var path = _files.Combine("store.rtbackup");

        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;
        var restored = await StoreBackup.RestoreAsync(target, path, replace: false, None);

        Assert.Equal(written.ContentDigest, restored.ContentDigest);
        Assert.True(written.SameRecordsAs(restored));
        Assert.Equal(3, written.Counts["Instances"]);
        Assert.Equal(4, written.Counts["HistoryRows"]);
        Assert.True(written.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)));
        await BackupSamples.AssertSameRecordsAsync(source, target, deploymentId);
        Assert.Empty(await target.GetLeasesAsync(null, None));
    }

    [SkippableFact]
    public async Task A_backup_taken_while_a_run_writes_is_one_consistent_snapshot()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        using var stop = new CancellationTokenSource();
        var runsWritten = 0;
        var writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && runsWritten < 5_000)
            {
                var run = await source.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2") }, None);
                await source.AppendAuditAsync(run.DeploymentId, "note", $"write {runsWritten}", None);
                Interlocked.Increment(ref runsWritten);
            }
        });
        var path = _files.Combine("busy.rtbackup");
        while (Volatile.Read(ref runsWritten) < 5 && !writer.IsCompleted)
        {
            await Task.Delay(5);
        }

        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var writtenMeanwhile = !writer.IsCompleted;
        stop.Cancel();
        await writer;
        var target = NewScope().Store;
        await StoreBackup.RestoreAsync(target, path, replace: false, None);

        // The run kept writing from before the backup began until after it ended.
        Assert.True(writtenMeanwhile, "the writer stopped before the backup ended");
        Assert.InRange(written.Counts["Deployments"], 2 + 5, (await source.FindDeploymentsAsync(new DeploymentQuery { Limit = 0 }, None)).Count);

        // A run and its targets are written in one transaction: a torn copy would show a run without them.
        var runs = await target.FindDeploymentsAsync(new DeploymentQuery { Limit = 0 }, None);
        Assert.Equal(written.Counts["Deployments"], runs.Count);
        foreach (var run in runs)
        {
            Assert.Equal(run.TotalTargets, (await target.GetTargetsAsync(run.DeploymentId, None)).Count);
        }
    }

    [SkippableFact]
    public async Task A_backup_of_format_1_without_history_outcomes_restores_with_every_row_a_release()
    {
        var source = NewScope().Store;
        await source.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var run = await source.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await source.RecordReleaseAsync(StoreSamples.Release(run.DeploymentId, "orders-1", "2.0.0"), None);
        var path = _files.Combine("format-2.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var older = _files.Combine("format-1.rtbackup");
        BackupSamples.WriteLines(older, BackupSamples.AsFormat1(BackupSamples.ReadLines(path)));

        var target = NewScope().Store;
        var restored = await StoreBackup.RestoreAsync(target, older, replace: false, None);

        Assert.Equal(1, restored.FormatVersion);
        var history = Assert.Single(await target.GetHistoryIncludingRevertedAsync("orders-1", 0, None));
        Assert.Equal(("2.0.0", HistoryOutcome.Released, (string?)null), (history.Version, history.Outcome, history.FailedCheck));
        Assert.Equal(await source.GetHistoryAsync("orders-1", 0, None), await target.GetHistoryAsync("orders-1", 0, None));
    }

    [SkippableFact]
    public async Task A_store_that_holds_records_is_refused_unless_replace_is_asked_for()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        var path = _files.Combine("store.rtbackup");
        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;
        await target.RegisterInstanceAsync(StoreSamples.Instance("billing-9", service: "billing"), None);

        var refused = await Assert.ThrowsAsync<StoreException>(() => StoreBackup.RestoreAsync(target, path, replace: false, None));
        Assert.Equal(StoreErrorIds.StoreNotEmpty, refused.ErrorId);
        Assert.Equal(new[] { "billing-9" }, (await target.FindInstancesAsync(new InstanceQuery(), None)).Select(i => i.InstanceId));

        await StoreBackup.RestoreAsync(target, path, replace: true, None);
        Assert.Null(await target.GetInstanceAsync("billing-9", None));
        Assert.True(written.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)));
    }

    [SkippableFact]
    public async Task A_truncated_or_altered_backup_is_refused_and_nothing_is_written()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        var path = _files.Combine("store.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var lines = BackupSamples.ReadLines(path);

        var truncated = _files.Combine("truncated.rtbackup");
        BackupSamples.WriteLines(truncated, lines.Take(lines.Count - 3));
        var altered = _files.Combine("altered.rtbackup");
        BackupSamples.WriteLines(altered, lines.Select(l => l.Replace("orders-2", "orders-X")));
        var cut = _files.Combine("cut.rtbackup");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(cut, bytes.Take(bytes.Length / 2).ToArray());
        var target = NewScope().Store;

        foreach (var bad in new[] { truncated, altered, cut })
        {
            var refused = await Assert.ThrowsAsync<StoreException>(() => StoreBackup.RestoreAsync(target, bad, replace: true, None));
            Assert.Equal(StoreErrorIds.BackupCorrupt, refused.ErrorId);
            Assert.Contains("Nothing was changed", refused.Message);
        }

        Assert.All((await StoreBackup.SummarizeAsync(target, None)).Counts, c => Assert.Equal(0, c.Value));
    }

    [SkippableFact]
    public async Task A_large_backup_restores_every_row_through_the_batched_path()
    {
        var source = NewScope().Store;
        await BackupSamples.PopulateAsync(source);
        var populated = await StoreBackup.SummarizeAsync(source, None);
        await BackupSamples.AddFleetAsync(source, instances: 300, releasesEach: 4);
        var path = _files.Combine("large.rtbackup");
        var written = await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;

        await StoreBackup.RestoreAsync(target, path, replace: false, None);

        Assert.Equal(populated.Counts["Instances"] + 300, written.Counts["Instances"]);
        Assert.Equal(populated.Counts["HistoryRows"] + 1_200, written.Counts["HistoryRows"]);
        Assert.True(written.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)));
        Assert.Equal(new[] { "1.3.0", "1.2.0", "1.1.0", "1.0.0" }, (await target.GetHistoryAsync("fleet-0123", 10, None)).Select(h => h.Version));
    }

    [SkippableFact]
    public async Task A_restore_whose_backup_proves_corrupt_at_its_end_leaves_the_store_as_it_was()
    {
        var source = NewScope().Store;
        await BackupSamples.AddFleetAsync(source, instances: 300, releasesEach: 4);
        var path = _files.Combine("large.rtbackup");
        await StoreBackup.BackupAsync(source, path, overwrite: false, None);
        var target = NewScope().Store;
        await BackupSamples.PopulateAsync(target);
        var before = await StoreBackup.SummarizeAsync(target, None);

        // Every row of every table has been handed to the store (whole batches, a partial last batch, an open COPY)
        // when the stream fails, as it does when the manifest at the end does not match.
        static IEnumerable<KeyValuePair<PortableTable, object?[]>> FailingAtTheEnd(string file)
        {
            foreach (var row in StoreBackupFile.Rows(file, _ => { }))
            {
                yield return row;
            }

            throw new StoreException(StoreErrorIds.BackupCorrupt, "The backup's manifest does not match its rows.");
        }

        var refused = await Assert.ThrowsAsync<StoreException>(() => ((IPortableStore)target).ImportAsync(FailingAtTheEnd(path), replace: true, None));

        Assert.Equal(StoreErrorIds.BackupCorrupt, refused.ErrorId);
        Assert.True(before.SameRecordsAs(await StoreBackup.SummarizeAsync(target, None)), "the store changed");
        Assert.Null(await target.GetInstanceAsync("fleet-0001", None));
        Assert.NotNull(await target.GetInstanceAsync("orders-1", None));
    }

    [SkippableFact]
    public async Task An_existing_backup_file_is_not_overwritten_unless_asked()
    {
        var source = NewScope().Store;
        var path = _files.WriteFile("taken.rtbackup", "keep me");

        var refused = await Assert.ThrowsAsync<StoreException>(() => StoreBackup.BackupAsync(source, path, overwrite: false, None));

        Assert.Equal(StoreErrorIds.BackupFileUnavailable, refused.ErrorId);
        Assert.Equal("keep me", File.ReadAllText(path));
        await StoreBackup.BackupAsync(source, path, overwrite: true, None);
        await StoreBackup.VerifyAsync(path, None);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.partial-*"));
    }
}

public sealed class SqliteBackupTests : BackupContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresBackupTests : BackupContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}

/// <summary>Moving a team's store: a SQLite backup restored into PostgreSQL, and back.</summary>
public sealed class StoreMoveTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _files = new("rt-move");
    private readonly List<IStoreScope> _scopes = new();

    public void Dispose()
    {
        foreach (var scope in _scopes)
        {
            scope.Dispose();
        }

        _files.Dispose();
    }

    [SkippableFact]
    public async Task A_SQLite_store_moves_to_PostgreSQL_and_back_with_every_record()
    {
        var sqlite = Add(new StoreScope()).Store;
        var deploymentId = await BackupSamples.PopulateAsync(sqlite);
        var postgres = Add(new PostgresStoreScope()).Store;
        var sqliteAgain = Add(new StoreScope()).Store;

        var fromSqlite = await StoreBackup.BackupAsync(sqlite, _files.Combine("from-sqlite.rtbackup"), false, None);
        await StoreBackup.RestoreAsync(postgres, _files.Combine("from-sqlite.rtbackup"), false, None);
        var fromPostgres = await StoreBackup.BackupAsync(postgres, _files.Combine("from-postgres.rtbackup"), false, None);
        await StoreBackup.RestoreAsync(sqliteAgain, _files.Combine("from-postgres.rtbackup"), false, None);

        Assert.Equal("sqlite", fromSqlite.SourceKind);
        Assert.Equal("postgresql", fromPostgres.SourceKind);
        Assert.True(fromSqlite.SameRecordsAs(fromPostgres), "the PostgreSQL store holds exactly what the SQLite store held");
        Assert.True(fromSqlite.SameRecordsAs(await StoreBackup.SummarizeAsync(sqliteAgain, None)));
        await BackupSamples.AssertSameRecordsAsync(sqlite, postgres, deploymentId);
        await BackupSamples.AssertSameRecordsAsync(sqlite, sqliteAgain, deploymentId);

        // The moved store keeps working: new history continues after the restored rows.
        var next = await postgres.CreateDeploymentAsync(StoreSamples.Deployment(version: "3.0.0"), new[] { StoreSamples.Target("orders-1", version: "3.0.0") }, None);
        await postgres.RecordReleaseAsync(StoreSamples.Release(next.DeploymentId, "orders-1", "3.0.0"), None);
        var history = await postgres.GetHistoryAsync("orders-1", 10, None);
        Assert.Equal("3.0.0", history[0].Version);
        Assert.True(history[0].Sequence > history[1].Sequence);
    }

    private IStoreScope Add(IStoreScope scope)
    {
        _scopes.Add(scope);
        return scope;
    }
}

internal static class BackupSamples
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A fleet of fleet-NNNN instances with imported history, more rows than one batch of a restore holds.</summary>
    public static async Task AddFleetAsync(IReleaseStore store, int instances, int releasesEach)
    {
        await store.RegisterInstancesAsync(Enumerable.Range(0, instances).Select(i => StoreSamples.Instance($"fleet-{i:D4}", service: "fleet")).ToList(), None);
        var at = DateTimeOffset.UtcNow.AddDays(-releasesEach);
        await store.ImportHistoryAsync(Enumerable.Range(0, releasesEach).SelectMany(release => Enumerable.Range(0, instances).Select(i => new VersionHistoryRecord
        {
            InstanceId = $"fleet-{i:D4}", Service = "fleet", Environment = "prod", Version = $"1.{release}.0", FVersion = $"1.{release}.0+f",
            PreviousVersion = release == 0 ? null : $"1.{release - 1}.0", DeploymentId = $"d-fleet-{release}", RecordedAt = at.AddHours(release).AddSeconds(i),
        })).ToList(), None);
    }

    /// <summary>Instances, a finished run with history and config, a run still in progress holding leases, audit entries. Returns the finished run.</summary>
    public static async Task<string> PopulateAsync(IReleaseStore store)
    {
        await store.RegisterInstancesAsync(new[]
        {
            StoreSamples.Instance("orders-1", tags: new[] { "blue" }), StoreSamples.Instance("orders-2"), StoreSamples.Instance("Orders-3", environment: "staging"),
        }, None);
        var finished = await store.CreateDeploymentAsync(StoreSamples.Deployment(), new[]
        {
            StoreSamples.Target("orders-1"), StoreSamples.Target("orders-2"), StoreSamples.Target("Orders-3"),
        }, None);
        await store.SetDeploymentStatusAsync(finished.DeploymentId, DeploymentStatus.Running, None);
        await store.SaveConfigSnapshotAsync("digest-2.0.0", "appsettings.json", Encoding.UTF8.GetBytes("{\"level\":\"info\"}\n\u00e9"), None);
        foreach (var id in new[] { "orders-1", "orders-2", "Orders-3" })
        {
            await store.RecordReleaseAsync(StoreSamples.Release(finished.DeploymentId, id, "2.0.0"), None);
        }

        await store.AppendAuditAsync(finished.DeploymentId, "note", "Rolled out after the change freeze.", None);
        await store.SetDeploymentStatusAsync(finished.DeploymentId, DeploymentStatus.Succeeded, None);
        var reverted = await store.CreateDeploymentAsync(StoreSamples.Deployment(version: "2.0.1"), new[] { StoreSamples.Target("orders-2", version: "2.0.1") }, None);
        await store.RecordRevertedAsync(StoreSamples.Target("orders-2", TargetStatus.Failed, version: "2.0.1") with { DeploymentId = reverted.DeploymentId, FailedStep = "activate" },
            new RevertedAttempt { Operation = DeploymentOperation.Deploy, Version = "2.0.1", FVersion = "2.0.1+f1", FailedCheck = "healthCheck" }, None);
        await store.SetDeploymentStatusAsync(reverted.DeploymentId, DeploymentStatus.Failed, None);
        var active = await store.CreateDeploymentAsync(StoreSamples.Deployment(version: "2.1.0"), new[] { StoreSamples.Target("orders-1", version: "2.1.0") }, None);
        await store.SetDeploymentStatusAsync(active.DeploymentId, DeploymentStatus.Running, None);
        await store.TryClaimInstancesAsync(ProcessIdentity.Current(active.DeploymentId), new[] { "orders-1" }, TimeSpan.FromMinutes(5), None);
        return finished.DeploymentId;
    }

    public static async Task AssertSameRecordsAsync(IReleaseStore expected, IReleaseStore actual, string deploymentId)
    {
        Assert.Equal(await expected.FindInstancesAsync(new InstanceQuery(), None), await actual.FindInstancesAsync(new InstanceQuery(), None), new RecordComparer<InstanceRecord>());
        Assert.Equal(await expected.GetDeploymentAsync(deploymentId, None), await actual.GetDeploymentAsync(deploymentId, None));
        Assert.Equal(await expected.GetTargetsAsync(deploymentId, None), await actual.GetTargetsAsync(deploymentId, None));
        Assert.Equal(await expected.GetHistoryAsync("orders-2", 0, None), await actual.GetHistoryAsync("orders-2", 0, None));
        var attempts = await actual.GetHistoryIncludingRevertedAsync("orders-2", 0, None);
        Assert.Equal(await expected.GetHistoryIncludingRevertedAsync("orders-2", 0, None), attempts);
        Assert.Equal(new[] { HistoryOutcome.Reverted, HistoryOutcome.Released }, attempts.Select(h => h.Outcome));
        Assert.Equal(await expected.GetAuditAsync(deploymentId, None), await actual.GetAuditAsync(deploymentId, None));
        Assert.Equal(await expected.GetConfigSnapshotAsync("digest-2.0.0", None), await actual.GetConfigSnapshotAsync("digest-2.0.0", None));
        Assert.Equal(await expected.GetVersionsAsync("orders", None), await actual.GetVersionsAsync("orders", None));
    }

    public static List<string> ReadLines(string path)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>
    /// A format-2 backup as format 1 wrote it: history rows without their outcome and failed check, and the header and
    /// manifest (content digest, history digest) that a format-1 release computed over those lines.
    /// </summary>
    public static List<string> AsFormat1(List<string> lines)
    {
        using var sha = System.Security.Cryptography.SHA256.Create();
        var header = System.Text.Json.Nodes.JsonNode.Parse(lines[0])!;
        header["formatVersion"] = 1;
        var historyColumns = header["tables"]!["version_history"]!.AsArray();
        historyColumns.RemoveAt(historyColumns.Count - 1);
        historyColumns.RemoveAt(historyColumns.Count - 1);
        var output = new List<string> { header.ToJsonString() };
        var historyHashes = new List<byte[]>();
        foreach (var line in lines.Skip(1).Take(lines.Count - 2))
        {
            var row = System.Text.Json.Nodes.JsonNode.Parse(line)!;
            if ((string?)row["t"] != "version_history")
            {
                output.Add(line);
                continue;
            }

            var values = row["r"]!.AsArray();
            values.RemoveAt(values.Count - 1);
            values.RemoveAt(values.Count - 1);
            var canonical = values.ToJsonString();
            historyHashes.Add(sha.ComputeHash(Encoding.UTF8.GetBytes(canonical)));
            output.Add("{\"t\":\"version_history\",\"r\":" + canonical + "}");
        }

        historyHashes.Sort((a, b) => a.AsSpan().SequenceCompareTo(b));
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(lines[^1])!;
        manifest["manifest"]!["formatVersion"] = 1;
        manifest["manifest"]!["digests"]!["HistoryRows"] = Convert.ToHexStringLower(sha.ComputeHash(historyHashes.SelectMany(h => h).ToArray()));
        manifest["manifest"]!["contentDigest"] = Convert.ToHexStringLower(sha.ComputeHash(Encoding.UTF8.GetBytes(string.Concat(output.Select(l => l + "\n")))));
        output.Add(manifest.ToJsonString());
        return output;
    }

    public static void WriteLines(string path, IEnumerable<string> lines)
    {
        using var writer = new StreamWriter(new GZipStream(File.Create(path), CompressionLevel.Fastest), new UTF8Encoding(false));
        foreach (var line in lines)
        {
            writer.Write(line + "\n");
        }
    }

    /// <summary>Records hold lists (tags): compare them by their printed form, which lists every member.</summary>
    private sealed class RecordComparer<T> : IEqualityComparer<T>
    {
        public bool Equals(T? x, T? y) => Describe(x) == Describe(y);

        public int GetHashCode(T obj) => Describe(obj).GetHashCode();

        private static string Describe(T? value) => value is InstanceRecord i ? i with { Tags = Array.Empty<string>() } + string.Join(",", i.Tags) : value?.ToString() ?? "";
    }
}
