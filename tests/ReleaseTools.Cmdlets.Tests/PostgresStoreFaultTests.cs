using System.Management.Automation;
using Npgsql;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// The PostgreSQL server of a team's store stops taking writes, as the built module meets it: its disk fills (the store's
/// tables in a tablespace on a small tmpfs: mounting needs root, which CI has; without it the test skips and says why),
/// or it answers read-only (a hot standby after a failover, or a database set to default_transaction_read_only). The
/// command fails with the ids SQLite's store gives for the same (StoreFull, StoreReadOnly), nothing is half-written, and
/// once the server takes writes again the next command works. Each test has a database of its own, dropped afterwards.
/// </summary>
public sealed class PostgresStoreFaultTests : IClassFixture<AgentFleet>, IDisposable
{
    private readonly AgentFleet _fleet;
    private readonly List<string> _databases = new();
    private readonly List<string> _tablespaces = new();
    private readonly TempDirectory _directory = new("rt-pg-faults");
    private SmallDisk? _disk;

    public PostgresStoreFaultTests(AgentFleet fleet) => _fleet = fleet;

    private static string Admin => new NpgsqlConnectionStringBuilder(PostgresTestServer.ConnectionString) { Pooling = false }.ConnectionString;

    private static void Execute(string sql)
    {
        using var connection = new NpgsqlConnection(Admin);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    /// <summary>A fresh database; returns its name.</summary>
    private string CreateDatabase()
    {
        var name = "rt_fault_" + Guid.NewGuid().ToString("N")[..12];
        Execute($"CREATE DATABASE {name}");
        _databases.Add(name);
        return name;
    }

    /// <summary>
    /// The store's address in <paramref name="database"/>. Each <paramref name="session"/> is a connection pool of its
    /// own, as a new PowerShell window would open: a server setting such as default_transaction_read_only applies to the
    /// sessions that start after it.
    /// </summary>
    private static string Store(string database, string session) =>
        new NpgsqlConnectionStringBuilder(PostgresTestServer.ConnectionString) { Database = database, ApplicationName = "releasetools-" + session }.ConnectionString;

    private static long Count(string database, string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Admin) { Database = database }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand("SET search_path = releasetools; " + sql, connection);
        return Convert.ToInt64(command.ExecuteScalar());
    }

    private static ErrorRecord Refusal(PowerShellResult result) => result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);

    [SkippableFact]
    public void A_read_only_server_refuses_a_deployment_with_StoreReadOnly_records_nothing_and_the_next_run_works_once_it_takes_writes()
    {
        var database = CreateDatabase();
        _fleet.Invoke(Store(database, "before"), $"""
            Register-ServiceInstance -InstanceId pgro-01 -Service pgro -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[0].Port}
            Register-ServiceInstance -InstanceId pgro-02 -Service pgro -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[1].Port}
            Invoke-Deployment -Service pgro -Version 1.0.0 -PackageUrl $V1 -Force
            """).ThrowOnError();
        var runs = Count(database, "SELECT count(*) FROM deployments");
        var history = Count(database, "SELECT count(*) FROM version_history");
        Execute($"ALTER DATABASE {database} SET default_transaction_read_only = on");

        var refused = _fleet.Invoke(Store(database, "read-only"), "Invoke-Deployment -Service pgro -Version 2.0.0 -PackageUrl $V2 -Force");

        var error = Refusal(refused);
        Assert.Equal("StoreReadOnly", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
        Assert.Contains("read-only", error.Exception.Message);
        Assert.Empty(refused.Output);
        // Reads still work on a read-only server, and show that nothing moved: no run, no history, no agent touched.
        var instances = _fleet.Invoke(Store(database, "read-only"), "Get-ServiceInstance -Service pgro").ThrowOnError().Output;
        Assert.Equal(new[] { "1.0.0", "1.0.0" }, instances.Select(i => (string)i.Properties["Version"].Value));
        Assert.Equal(runs, Count(database, "SELECT count(*) FROM deployments"));
        Assert.Equal(history, Count(database, "SELECT count(*) FROM version_history"));
        Assert.Equal("1.0.0", _fleet.AgentVersion("pgro", 0));

        Execute($"ALTER DATABASE {database} RESET default_transaction_read_only");
        var results = _fleet.Invoke(Store(database, "after"), "Invoke-Deployment -Service pgro -Version 2.0.0 -PackageUrl $V2 -Force").ThrowOnError().Output;

        Assert.Equal(new[] { "Succeeded", "Succeeded" }, results.Select(r => r.Properties["Status"].Value.ToString()));
        var versions = _fleet.Invoke(Store(database, "after"), "Get-InstanceVersionHistory -InstanceId pgro-01").ThrowOnError().Output;
        Assert.Equal(new[] { "2.0.0", "1.0.0" }, versions.Select(h => (string)h.Properties["Version"].Value));
    }

    [SkippableFact]
    public void A_full_server_disk_refuses_the_write_with_StoreFull_keeps_every_earlier_record_and_takes_writes_once_space_is_back()
    {
        _ = PostgresTestServer.ConnectionString;
        _disk = new SmallDisk(_directory.Combine("pg-small-disk"), megabytes: 4);
        Skip.If(_disk.NotMounted is not null, $"No size-limited file system for the server's tablespace: {_disk.NotMounted}.");
        // The server runs as the postgres user: the tablespace folder must be its own.
        var folder = Path.Combine(_disk.Path, "tablespace");
        Directory.CreateDirectory(folder);
        Assert.Equal(0, SmallDisk.Run("chown", "postgres:", folder).ExitCode);
        var tablespace = "rt_small_" + Guid.NewGuid().ToString("N")[..12];
        Execute($"CREATE TABLESPACE {tablespace} LOCATION '{folder}'");
        _tablespaces.Add(tablespace);
        // The store's tables and indexes go to the small tablespace (a data volume of their own); the database's catalog
        // stays on the server's disk, where each new session writes its relation cache file.
        var database = CreateDatabase();
        Execute($"ALTER DATABASE {database} SET default_tablespace = {tablespace}");
        var store = Store(database, "full");
        _fleet.Invoke(store, $"""
            Register-ServiceInstance -InstanceId pgfull-01 -Service pgfull -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[0].Port}
            Invoke-Deployment -Service pgfull -Version 1.0.0 -PackageUrl $V1 -Force
            """).ThrowOnError();
        var filler = _disk.Fill();

        // Rows go into pages that still have room until a table must grow by a page: register until the server says
        // its disk is full (a few dozen rows fill a page; 2,000 are a bound, never reached).
        var registered = 0;
        ErrorRecord? full = null;
        while (full is null && registered < 2000)
        {
            var result = _fleet.Invoke(store, $"Register-ServiceInstance -InstanceId pgfull-x{registered:D4} -Service pgfull -Environment staging -HostName 10.0.0.1 -Port {10000 + registered} -Tags 'filling the disk of the server'");
            if (result.Terminating is not null || result.Errors.Count > 0)
            {
                full = Refusal(result);
            }
            else
            {
                registered++;
            }
        }

        Assert.NotNull(full);
        Assert.True(full!.FullyQualifiedErrorId.StartsWith("StoreFull,", StringComparison.Ordinal), $"{full.FullyQualifiedErrorId}: {full.Exception.Message}");
        Assert.Equal(ErrorCategory.WriteError, full.CategoryInfo.Category);
        Assert.Contains("free space", full.Exception.Message);
        // The refused registration was undone whole; every earlier one is there, and reads still work.
        Assert.Equal(registered, _fleet.Invoke(store, "Get-ServiceInstance -Environment staging").ThrowOnError().Output.Count);
        Assert.Equal(0L, Count(database, $"SELECT count(*) FROM instances WHERE instance_id = 'pgfull-x{registered:D4}'"));

        File.Delete(filler);
        _fleet.Invoke(store, $"Register-ServiceInstance -InstanceId pgfull-x{registered:D4} -Service pgfull -Environment staging -HostName 10.0.0.1 -Port {10000 + registered}").ThrowOnError();
        var results = _fleet.Invoke(store, "Invoke-Deployment -InstanceId pgfull-01 -Version 2.0.0 -PackageUrl $V2 -Force").ThrowOnError().Output;

        Assert.Equal("Succeeded", Assert.Single(results).Properties["Status"].Value.ToString());
        Assert.Equal(registered + 1, _fleet.Invoke(store, "Get-ServiceInstance -Environment staging").ThrowOnError().Output.Count);
        var versions = _fleet.Invoke(store, "Get-InstanceVersionHistory -InstanceId pgfull-01").ThrowOnError().Output;
        Assert.Equal(new[] { "2.0.0", "1.0.0" }, versions.Select(h => (string)h.Properties["Version"].Value));
    }

    public void Dispose()
    {
        foreach (var database in _databases)
        {
            Execute($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        }

        foreach (var tablespace in _tablespaces)
        {
            Execute($"DROP TABLESPACE IF EXISTS {tablespace}");
        }

        _disk?.Dispose();
        _directory.Dispose();
    }
}
