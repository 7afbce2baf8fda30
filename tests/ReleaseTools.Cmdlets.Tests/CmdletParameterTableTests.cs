using System.Collections;
using System.Management.Automation;
using System.Security.Cryptography;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// The bad-input table of <see cref="ParameterTableTests"/> over every other cmdlet's parameters: registration and
/// inventory import, the read commands, Unlock-, Test-ServiceInstance, Resume-Deployment, Get-ReleaseDeployment,
/// Backup-/Restore-ReleaseStore and every cmdlet's -StorePath. Each hostile value is refused with a stable id, the value
/// itself as target object and a real category, before any request (the "agent" counts what reached it), and the
/// store's files are byte for byte as they were.
/// </summary>
public sealed class CmdletParameterTableTests : IClassFixture<AgentFleet>, IDisposable
{
    private static readonly string Long = new('a', 5000);
    private static readonly string[] Hostile = { " ", "a\nb", "a\u0001b", "ñandú", "../etc", Long };

    private readonly AgentFleet _fleet;
    private readonly TempDirectory _directory = new("rt-cmdlet-table");
    private readonly LoopbackHttpServer _agent = new();

    public CmdletParameterTableTests(AgentFleet fleet) => _fleet = fleet;

    /// <summary>Command (with $V for the value), the id expected, and a name for the category figures.</summary>
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        const string register = "Register-ServiceInstance -InstanceId {0} -Service {1} -Environment {2} -HostName {3} -Port $Port -Force";
        foreach (var value in Hostile)
        {
            data.Add(string.Format(register, "$V", "table", "prod", "127.0.0.1"), value, "InstanceIdInvalid");
            data.Add(string.Format(register, "table-02", "$V", "prod", "127.0.0.1"), value, "ServiceNameInvalid");
            data.Add(string.Format(register, "table-02", "table", "$V", "127.0.0.1"), value, "EnvironmentNameInvalid");
            data.Add(string.Format(register, "table-02", "table", "prod", "$V"), value, "HostNameInvalid");
            data.Add("[pscustomobject]@{ InstanceId = 'table-02'; Service = $V; Environment = 'prod'; Host = '127.0.0.1'; Port = $Port } | Register-ServiceInstance", value, "ServiceNameInvalid");
            data.Add("Unregister-ServiceInstance -InstanceId $V -Force", value, "InstanceNotFound");
            data.Add("Get-ServiceInstance -InstanceId $V", value, "InstanceNotFound");
            data.Add("Get-InstanceVersionHistory -InstanceId $V", value, "InstanceNotFound");
            data.Add("Resume-Deployment -DeploymentId $V -PrivateKeyPath $Key -Force", value, "DeploymentNotFound");
            data.Add("Get-ReleaseDeployment -DeploymentId $V", value, "DeploymentNotFound");
        }

        foreach (var value in new[] { " ", "a\nb", "a\u0001b", "ñandú", "../etc", Long })
        {
            data.Add("Test-ServiceInstance -InstanceId $V -PrivateKeyPath $Key", value, "InstanceNotFound");
            data.Add("Unlock-ServiceInstance -InstanceId $V -Reason 'the run is dead' -Force", value, "InstanceNotFound");
        }

        foreach (var value in new[] { "http://127.0.0.1/", "1.0.0" })
        {
            data.Add(string.Format(register, "table-02", "table", "prod", "$V"), value, "HostNameInvalid");
        }

        foreach (var value in new[] { "a\nb", "a\u0001b", new string('t', 101) })
        {
            data.Add("Register-ServiceInstance -InstanceId table-02 -Service table -Environment prod -HostName 127.0.0.1 -Port $Port -Tags $V -Force", value, "TagInvalid");
        }

        data.Add("Unlock-ServiceInstance -InstanceId table-01 -Reason $V -Force", " ", "UnlockReasonMissing");
        foreach (var value in new[] { " ", "a\nb", "a\u0001b", "dir/" + Long })
        {
            data.Add("Backup-ReleaseStore -Path $V -Force", value, "BackupPathInvalid");
            data.Add("Restore-ReleaseStore -Path $V -Force", value, "BackupPathInvalid");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_hostile_parameter_value_is_refused_by_id_with_the_value_as_target_before_any_request_and_the_store_unchanged(string command, string value, string errorId)
    {
        var (store, before) = RegisteredStore();

        var result = Run(command + " -StorePath $Store", store, value);

        AssertRefused(result, errorId, value);
        Assert.Equal(before, StoreFiles(store));
    }

    public static TheoryData<string, string> StorePaths()
    {
        var data = new TheoryData<string, string>();
        foreach (var value in new[] { " ", "a\nb.db", "a\u0001b.db", "dir/" + Long + ".db", "dir/ " })
        {
            data.Add("Get-ServiceInstance -StorePath $V", value);
            data.Add("Register-ServiceInstance -InstanceId table-02 -Service table -Environment prod -HostName 127.0.0.1 -Port $Port -StorePath $V", value);
            data.Add("Invoke-Deployment -Service table -Version 1.0.0 -PackageUrl $Package -PrivateKeyPath $Key -Force -StorePath $V", value);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(StorePaths))]
    public void A_store_path_no_file_can_have_is_refused_as_StorePathInvalid_before_anything_is_created(string command, string value)
    {
        var before = Directory.GetFileSystemEntries(_directory.Path, "*", SearchOption.AllDirectories);

        var result = Run(command, _directory.Combine("unused.db"), value);

        AssertRefused(result, "StorePathInvalid", value);
        Assert.Equal(before, Directory.GetFileSystemEntries(_directory.Path, "*", SearchOption.AllDirectories));
    }

    public static TheoryData<string> KeyKinds() => new() { "NOT-PEM", "EC", "PUBLIC", "ENCRYPTED" };

    [Theory]
    [MemberData(nameof(KeyKinds))]
    public void Test_ServiceInstance_checks_its_key_before_any_request(string kind)
    {
        var (store, before) = RegisteredStore();
        var key = KeyFile(kind);

        var result = Run("Test-ServiceInstance -InstanceId table-01 -PrivateKeyPath $V -StorePath $Store", store, key);

        AssertRefused(result, "PrivateKeyUnusable", key);
        Assert.Equal(before, StoreFiles(store));
    }

    [Theory]
    [InlineData("Register-ServiceInstance -InstanceId $V -Service table -Environment prod -HostName 127.0.0.1 -Port $Port")]
    [InlineData("Unregister-ServiceInstance -InstanceId $V -Force")]
    [InlineData("Get-InstanceVersionHistory -InstanceId $V")]
    [InlineData("Unlock-ServiceInstance -InstanceId table-01 -Reason $V -Force")]
    [InlineData("Resume-Deployment -DeploymentId $V -Force")]
    [InlineData("Get-ReleaseDeployment -DeploymentId $V")]
    [InlineData("Backup-ReleaseStore -Path $V")]
    [InlineData("Restore-ReleaseStore -Path $V -Force")]
    [InlineData("Test-ServiceInstance -InstanceId table-01 -PrivateKeyPath $V")]
    public void Empty_and_null_are_refused_by_parameter_binding_and_the_store_unchanged(string command)
    {
        foreach (var value in new[] { "", null })
        {
            var (store, before) = RegisteredStore();

            var result = Run(command + " -StorePath $Store", store, value);

            var error = result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);
            Assert.StartsWith("ParameterArgumentValidationError", error.FullyQualifiedErrorId);
            Assert.Equal(0, _agent.TotalRequests);
            Assert.Equal(before, StoreFiles(store));
        }
    }

    private (string Store, Dictionary<string, byte[]> Files) RegisteredStore()
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, $"Register-ServiceInstance -InstanceId table-01 -Service table -Environment prod -HostName 127.0.0.1 -Port {_agent.Port}").ThrowOnError();
        return (store, StoreFiles(store));
    }

    private PowerShellResult Run(string command, string store, string? value) =>
        _fleet.Shell.Invoke("param($Store, $V, $Key, $Port, $Package) " + command, new Hashtable
        {
            ["Store"] = store,
            ["V"] = value,
            ["Key"] = _fleet.Keys.Pkcs8PrivateKeyPath,
            ["Port"] = _agent.Port,
            ["Package"] = _fleet.PackageV1,
        });

    private void AssertRefused(PowerShellResult result, string errorId, string value)
    {
        var error = result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);
        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(value, error.TargetObject?.ToString());
        Assert.NotEqual(ErrorCategory.NotSpecified, error.CategoryInfo.Category);
        Assert.Empty(result.Output);
        Assert.Equal(0, _agent.TotalRequests);
    }

    private string KeyFile(string kind) => UnusableKeyFiles.Create(kind, _directory, _fleet.Keys);

    private static Dictionary<string, byte[]> StoreFiles(string store)
    {
        var name = Path.GetFileName(store);
        return Directory.GetFiles(Path.GetDirectoryName(store)!).Where(f => Path.GetFileName(f).StartsWith(name, StringComparison.Ordinal))
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
    }

    public void Dispose()
    {
        _agent.Dispose();
        _directory.Dispose();
    }
}
