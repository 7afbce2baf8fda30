using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Engine.Lifecycle.Stages;
using ReleaseTools.Engine.Tests.Store;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Lifecycle;

/// <summary>
/// Two scanners on two store objects (what two machines open) pass at the same moment over tagged releases: the scanner
/// lease lets one act at a time, every release is started exactly once, and every stage ends recorded. The releases'
/// services have no instances, so each stage fails at once without an agent (a stage with agents is the Pester suite's).
/// </summary>
public abstract class ReleaseScannerConcurrencyContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private IStoreScope? _scope;
    private readonly List<DeploymentEngine> _engines = new();
    private readonly TempDirectory _keys = new("rt-scan-keys");
    private TestKeys? _key;

    /// <summary>Scan options that sign with a real key (a scanner checks its key before it claims anything).</summary>
    private ScanOptions Options(int attempts = 4)
    {
        _key ??= TestKeys.Create(_keys.Path);
        return new ScanOptions { Stage = new StageOptions { Settings = new RunSettings { PrivateKeyPath = _key.Pkcs8PrivateKeyPath }, Retry = new RetryPolicy { MaxAttempts = attempts } } };
    }

    private IStoreScope Scope => _scope ??= CreateScope();

    protected abstract IStoreScope CreateScope();

    public void Dispose()
    {
        _engines.ForEach(e => e.Dispose());
        _scope?.Dispose();
        _key?.Dispose();
        _keys.Dispose();
    }

    private ReleaseLifecycle Lifecycle(ReleaseTools.Engine.Store.IReleaseStore store)
    {
        var engine = new DeploymentEngine(store, new EngineOptions { PackageCacheDirectory = Path.Combine(Path.GetTempPath(), "rt-scan-" + Guid.NewGuid().ToString("N")) });
        _engines.Add(engine);
        return new ReleaseLifecycle(engine, null);
    }

    [SkippableFact]
    public async Task Two_scanners_at_once_start_every_tagged_release_exactly_once_and_record_every_stage()
    {
        var first = Lifecycle(Scope.Store);
        var second = Lifecycle(Scope.Open());
        var ids = new List<string>();
        for (var n = 0; n < 6; n++)
        {
            var created = await first.CreateAsync(new NewRelease { Name = $"r{n}", PreEnvironment = "staging", ProdEnvironment = "prod", CreatedBy = "alice" },
                new[] { new ReleaseEntry { Service = $"svc{n}", Version = "1.0.0", PackageUrl = $"https://packages.example.test/svc{n}/1.0.0.zip", Checksum = "0123456789abcdef0123456789abcdef" } },
                None);
            var id = created.Change.Release!.ReleaseId;
            await first.ApproveAsync(id, "bob", null, None);
            await first.TagAsync(id, "alice", null, None);
            ids.Add(id);
        }

        var options = Options(attempts: 1);
        var passes = await Task.WhenAll(
            Task.Run(() => new ReleaseScanner(first).ScanOnceAsync(options, null, None)),
            Task.Run(() => new ReleaseScanner(second).ScanOnceAsync(options, null, None)));

        Assert.Contains(passes, p => p.Acquired);
        var stages = passes.SelectMany(p => p.Stages).ToList();
        Assert.Equal(ids.OrderBy(i => i), stages.Select(s => s.Release.ReleaseId).OrderBy(i => i));
        foreach (var id in ids)
        {
            var view = await second.GetViewAsync(id, None);
            Assert.Equal(ReleaseState.Tagged, view.Release.State);
            Assert.Equal(new[] { "create", "approve", "confirm_tag", "start_pre_deploy", "pre_deploy_failed" }, view.Transitions.Select(t => t.Event));
            var run = Assert.Single(view.Runs);
            Assert.Equal((ReleaseRunStatus.Failed, view.Transitions[3].Sequence), (run.Status, run.TransitionSequence));
            Assert.Contains("No instance of", run.Error);
        }

        // A release whose pre-release failed waits for a person: a later pass leaves it alone.
        var again = await new ReleaseScanner(second).ScanOnceAsync(options, null, None);
        Assert.True(again.Acquired);
        Assert.Empty(again.Stages);
        Assert.Null(await Scope.Store.Lifecycle.GetLifecycleLeaseAsync(ReleaseScanner.LeaseName, None));
    }

    [SkippableFact]
    public async Task A_scanner_whose_lease_another_holds_does_nothing_and_names_the_holder()
    {
        var lifecycle = Lifecycle(Scope.Store);
        var held = await Scope.Store.Lifecycle.TryClaimLifecycleLeaseAsync(ReleaseScanner.LeaseName, "scanner-elsewhere", TimeSpan.FromMinutes(2), None);
        Assert.True(held.Acquired);

        var pass = await new ReleaseScanner(lifecycle).ScanOnceAsync(Options(), null, None);

        Assert.False(pass.Acquired);
        Assert.Equal("scanner-elsewhere", pass.Holder!.HolderId);
        Assert.Empty(pass.Stages);
    }
}

public sealed class SqliteReleaseScannerConcurrencyTests : ReleaseScannerConcurrencyContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresReleaseScannerConcurrencyTests : ReleaseScannerConcurrencyContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}
