using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// The disk that holds a SQLite store fills up (a small tmpfs mounted for the test: it needs root, which CI has; without
/// it the tests skip and say why): the command fails with StoreFull and a message that says to free space, the store
/// passes SQLite's integrity check and still holds every earlier record, and once space is back the same command works.
/// </summary>
public sealed class StoreDiskFullTests : IClassFixture<AgentFleet>, IDisposable
{
    private readonly AgentFleet _fleet;
    private readonly TempDirectory _directory = new("rt-diskfull");
    private readonly SmallDisk _disk;
    private readonly string _mount;
    private readonly string? _notMounted;

    public StoreDiskFullTests(AgentFleet fleet)
    {
        _fleet = fleet;
        _disk = new SmallDisk(_directory.Combine("small-disk"));
        _mount = _disk.Path;
        _notMounted = _disk.NotMounted;
    }

    private static (int ExitCode, string Output) Run(string program, params string[] arguments) => SmallDisk.Run(program, arguments);

    /// <summary>
    /// SQLite's integrity check over the store's files as they are on disk (the database and its WAL), copied off the
    /// full disk first: on it, even sqlite3 cannot create the index file a read needs.
    /// </summary>
    private string IntegrityCheck(string store)
    {
        var copy = _directory.CreateDirectory("check-" + Guid.NewGuid().ToString("N"));
        var copied = Path.Combine(copy, Path.GetFileName(store));
        File.Copy(store, copied);
        if (File.Exists(store + "-wal"))
        {
            File.Copy(store + "-wal", copied + "-wal");
        }

        return Run("sqlite3", copied, "PRAGMA integrity_check;").Output.Trim();
    }

    [SkippableFact]
    public void A_deployment_on_a_full_disk_fails_with_StoreFull_corrupts_nothing_and_runs_once_space_is_back()
    {
        Skip.If(_notMounted is not null, $"No size-limited file system for the store: {_notMounted}.");
        var store = Path.Combine(_mount, "releasetools.db");
        _fleet.Invoke(store, $"""
            Register-ServiceInstance -InstanceId full-01 -Service full -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[0].Port}
            Register-ServiceInstance -InstanceId full-02 -Service full -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[1].Port}
            Invoke-Deployment -Service full -Version 1.0.0 -PackageUrl $V1 -Force
            """).ThrowOnError();
        var filler = _disk.Fill();

        var refused = _fleet.Invoke(store, "Invoke-Deployment -Service full -Version 2.0.0 -PackageUrl $V2 -Force");

        var error = refused.Terminating?.ErrorRecord ?? Assert.Single(refused.Errors);
        Assert.Equal("StoreFull", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(System.Management.Automation.ErrorCategory.WriteError, error.CategoryInfo.Category);
        Assert.Contains("free", error.Exception.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(store, error.Exception.Message);
        Assert.Equal("ok", IntegrityCheck(store));
        // In WAL mode even a read needs room for the index file beside the store, so it says the same.
        var read = _fleet.Invoke(store, "Get-ServiceInstance -Service full");
        Assert.Equal("StoreFull", (read.Terminating?.ErrorRecord ?? Assert.Single(read.Errors)).FullyQualifiedErrorId.Split(',')[0]);

        File.Delete(filler);
        // Space is back: the store shows the truth (no instance moved), and the same command now works.
        var instances = _fleet.Invoke(store, "Get-ServiceInstance -Service full").ThrowOnError().Output;
        Assert.Equal(new[] { "1.0.0", "1.0.0" }, instances.Select(i => (string)i.Properties["Version"].Value));
        var results = _fleet.Invoke(store, "Invoke-Deployment -Service full -Version 2.0.0 -PackageUrl $V2 -Force").ThrowOnError().Output;

        Assert.Equal(new[] { "Succeeded", "Succeeded" }, results.Select(r => r.Properties["Status"].Value.ToString()));
        Assert.Equal("ok", IntegrityCheck(store));
        var history = _fleet.Invoke(store, "Get-InstanceVersionHistory -InstanceId full-01").ThrowOnError().Output;
        Assert.Equal(new[] { "2.0.0", "1.0.0" }, history.Select(h => (string)h.Properties["Version"].Value));
    }

    [SkippableFact]
    public void The_disk_filling_mid_run_stops_the_run_with_StoreFull_loses_no_record_and_a_resume_completes_it_once_space_is_back()
    {
        Skip.If(_notMounted is not null, $"No size-limited file system for the store: {_notMounted}.");
        var store = Path.Combine(_mount, "midrun.db");
        _fleet.Invoke(store, $"""
            Register-ServiceInstance -InstanceId mid-01 -Service mid -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[0].Port}
            Register-ServiceInstance -InstanceId mid-02 -Service mid -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[1].Port}
            Invoke-Deployment -Service mid -Version 1.0.0 -PackageUrl $V1 -Force
            """).ThrowOnError();
        // The disk fills while the run works: the moment mid-01's activation leaves for its agent, after the run, its
        // targets and mid-01's transfers were recorded.
        string? filler = null;
        using var proxy = new FaultProxy(_fleet.Agents[0].Port, ProxyFault.None, 0) { OnFirstActivate = () => filler = _disk.Fill() };
        _fleet.Invoke(store, $"Register-ServiceInstance -InstanceId mid-01 -Service mid -Environment prod -HostName 127.0.0.1 -Port {proxy.Port}").ThrowOnError();

        var stopped = _fleet.Invoke(store, "Invoke-Deployment -Service mid -Version 2.0.0 -PackageUrl $V2 -ThrottleLimit 1 -Force");

        Assert.NotNull(filler);
        var errors = stopped.Errors.Concat(stopped.Terminating is null ? Array.Empty<System.Management.Automation.ErrorRecord>() : new[] { stopped.Terminating.ErrorRecord }).ToList();
        Assert.True(errors.Any(e => e.FullyQualifiedErrorId.StartsWith("StoreFull,", StringComparison.Ordinal)), string.Join("\n", errors.Select(e => e.FullyQualifiedErrorId + " " + e.Exception.Message)));
        var full = Assert.Single(errors, e => e.FullyQualifiedErrorId.StartsWith("StoreFull,", StringComparison.Ordinal));
        Assert.Contains(store, full.Exception.Message);
        Assert.Equal("ok", IntegrityCheck(store));

        File.Delete(filler!);
        // Space is back. Whatever the store could record stands, the run it could not finish recording can be resumed,
        // and the resume brings the store and the agents to one truth.
        var run = Assert.Single(_fleet.Invoke(store, "Get-ReleaseDeployment -Service mid").ThrowOnError().Output, r => (string)r.Properties["Version"].Value == "2.0.0");
        var status = run.Properties["Status"].Value.ToString();
        // The run this process had to give up is Interrupted at the next command, not Running with its instances held.
        Assert.NotEqual("Running", status);
        if (status != "Succeeded")
        {
            _fleet.Invoke(store, $"Resume-Deployment -DeploymentId {run.Properties["DeploymentId"].Value} -Force").ThrowOnError();
        }

        var instances = _fleet.Invoke(store, "Get-ServiceInstance -Service mid").ThrowOnError().Output;
        Assert.Equal(new[] { "2.0.0", "2.0.0" }, instances.Select(i => (string)i.Properties["Version"].Value));
        Assert.Equal("2.0.0", _fleet.AgentVersion("mid", 0));
        Assert.Equal("2.0.0", _fleet.AgentVersion("mid", 1));
        // mid-02 was never reached before the disk filled: the resume deployed it and recorded it. mid-01's activation
        // happened while the disk was full: the resume finds its agent on 2.0.0 already and records that release too.
        foreach (var instance in new[] { "mid-01", "mid-02" })
        {
            var history = _fleet.Invoke(store, $"Get-InstanceVersionHistory -InstanceId {instance}").ThrowOnError().Output;
            Assert.Equal(new[] { "2.0.0", "1.0.0" }, history.Select(h => (string)h.Properties["Version"].Value));
        }

        Assert.Equal("ok", IntegrityCheck(store));
    }

    [SkippableFact]
    public void A_deployment_on_a_read_only_file_system_fails_with_StoreReadOnly_and_runs_once_it_is_writable_again()
    {
        Skip.If(_notMounted is not null, $"No file system of its own for the store: {_notMounted}.");
        var store = Path.Combine(_mount, "readonly.db");
        _fleet.Invoke(store, $"""
            Register-ServiceInstance -InstanceId frozen-01 -Service frozen -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[0].Port}
            Invoke-Deployment -Service frozen -Version 1.0.0 -PackageUrl $V1 -Force
            """).ThrowOnError();
        // Root writes through file modes, so only a read-only mount makes the store unwritable here.
        _disk.SetReadOnly(true);
        try
        {
            var refused = _fleet.Invoke(store, "Invoke-Deployment -Service frozen -Version 2.0.0 -PackageUrl $V2 -Force");

            var error = refused.Terminating?.ErrorRecord ?? Assert.Single(refused.Errors);
            Assert.Equal("StoreReadOnly", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(System.Management.Automation.ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
            Assert.Contains(store, error.Exception.Message);
            Assert.Equal("ok", IntegrityCheck(store));
        }
        finally
        {
            _disk.SetReadOnly(false);
        }

        Assert.Equal("1.0.0", (string)Assert.Single(_fleet.Invoke(store, "Get-ServiceInstance -Service frozen").ThrowOnError().Output).Properties["Version"].Value);
        var results = _fleet.Invoke(store, "Invoke-Deployment -Service frozen -Version 2.0.0 -PackageUrl $V2 -Force").ThrowOnError().Output;
        Assert.Equal("Succeeded", Assert.Single(results).Properties["Status"].Value.ToString());
    }

    public void Dispose()
    {
        _disk.Dispose();
        _directory.Dispose();
    }
}
