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
            data.Add("Get-ServiceInstance -Service $V", value, "ServiceNameInvalid");
            data.Add("Get-ServiceInstance -Environment $V", value, "EnvironmentNameInvalid");
            data.Add("Get-ServiceInstance -Service table -Version $V", value, "VersionInvalid");
        }

        // SQL metacharacters, and wildcard patterns no name can match (a character no name has, an unclosed bracket,
        // more characters than a name holds): a typo said as such, never an empty list or a query gone wrong.
        foreach (var value in new[] { "table' OR '1'='1", "table;--", "%", "_able", "../*", "tab\u0001*", "[tab", "*" + new string('a', 101) + "*", "tab[/]*" })
        {
            data.Add("Get-ServiceInstance -Service $V", value, "ServiceNameInvalid");
        }

        foreach (var value in new[] { "1.0.0' OR '1'='1", "1.0.0;--", "1.0.%", "1.0.*" })
        {
            data.Add("Get-ServiceInstance -Version $V", value, "VersionInvalid");
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

    /// <summary>
    /// A filter a name or version could meet that matches nothing registered is an answer, not an error (as Get-ChildItem
    /// -Filter and Get-Service -Name 'x*' answer): nothing, quietly. Only -InstanceId names one instance, and says when it
    /// is missing.
    /// </summary>
    [Theory]
    [InlineData("Get-ServiceInstance -Service nosuch")]
    [InlineData("Get-ServiceInstance -Service 'zz*'")]
    [InlineData("Get-ServiceInstance -Service 't_ble'")]
    [InlineData("Get-ServiceInstance -Service 'table[0-9]'")]
    [InlineData("Get-ServiceInstance -Environment staging")]
    [InlineData("Get-ServiceInstance -Service table -Version 9.9.9")]
    [InlineData("Get-ServiceInstance -InstanceId 'zz*'")]
    public void A_valid_filter_that_matches_nothing_returns_nothing_and_no_error(string command)
    {
        var (store, before) = RegisteredStore();

        var result = Run(command + " -StorePath $Store", store, null);

        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        Assert.Empty(result.Output);
        Assert.Equal(before, StoreFiles(store));
    }

    [Fact]
    public void A_hostile_filter_value_beside_a_valid_one_is_reported_and_the_valid_one_still_answers()
    {
        var (store, _) = RegisteredStore();

        var result = Run("Get-ServiceInstance -Service 'tab*', $V -StorePath $Store", store, "../etc");

        Assert.Equal("table-01", (string)Assert.Single(result.Output).Properties["InstanceId"].Value);
        var error = Assert.Single(result.Errors);
        Assert.Equal("ServiceNameInvalid", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("../etc", error.TargetObject);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
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

    /// <summary>
    /// Every cmdlet that signs Floyd requests, as a user calls it, with $V for the key file. Resume-Deployment resumes a
    /// run that failed against the same listener ($Run); the release stages run a tagged release of service table.
    /// </summary>
    private static readonly Dictionary<string, string> SigningCommands = new()
    {
        ["Invoke-Deployment"] = "Invoke-Deployment -Service table -Version 1.0.0 -PackageUrl $Package -PrivateKeyPath $V -Force",
        ["Invoke-Rollback"] = "Invoke-Rollback -InstanceId table-01 -Version 1.0.0 -PrivateKeyPath $V -Force",
        ["Test-ServiceInstance"] = "Test-ServiceInstance -InstanceId table-01 -PrivateKeyPath $V",
        ["Resume-Deployment"] = "Resume-Deployment -DeploymentId $Run -PrivateKeyPath $V -Force",
        ["Start-ReleaseStage"] = "Get-Release -StorePath $Store | Start-ReleaseStage -Stage PreRelease -PrivateKeyPath $V -Force",
        ["Invoke-ReleaseScan"] = "Invoke-ReleaseScan -PrivateKeyPath $V -Force",
    };

    public static TheoryData<string, string> SigningCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var command in SigningCommands.Keys)
        {
            foreach (var kind in new[] { "NOT-PEM", "EC", "PUBLIC", "ENCRYPTED" })
            {
                data.Add(command, kind);
            }
        }

        return data;
    }

    [Fact]
    public void The_signing_table_names_every_cmdlet_that_takes_a_signing_key()
    {
        var signers = _fleet.Shell.Invoke("Get-Command -Module ReleaseTools -ParameterName PrivateKeyPath | ForEach-Object Name").ThrowOnError().Output
            .Select(o => o.ToString()).OrderBy(n => n, StringComparer.Ordinal);

        Assert.Equal(SigningCommands.Keys.OrderBy(n => n, StringComparer.Ordinal), signers);
    }

    [Theory]
    [MemberData(nameof(SigningCases))]
    public void A_signing_cmdlet_refuses_an_unusable_key_before_it_opens_a_connection(string command, string kind)
    {
        var (store, _) = RegisteredStore();
        var run = "";
        if (command == "Resume-Deployment")
        {
            // A run that failed on the listener (it answers 404 to the agent's ping): something to resume.
            var failed = Run("Invoke-Deployment -Service table -Version 1.0.0 -PackageUrl $Package -PrivateKeyPath $Key -RetryCount 0 -Force -StorePath $Store -ErrorAction SilentlyContinue", store, null);
            run = (string)Assert.Single(failed.Output).Properties["DeploymentId"].Value;
        }
        else if (command is "Start-ReleaseStage" or "Invoke-ReleaseScan")
        {
            TagRelease(store);
        }

        var before = StoreFiles(store);
        var connections = _agent.Connections;
        var key = KeyFile(kind);

        var result = _fleet.Shell.Invoke("param($Store, $V, $Package, $Run) " + SigningCommands[command] + " -StorePath $Store",
            new Hashtable { ["Store"] = store, ["V"] = key, ["Package"] = _fleet.PackageV1, ["Run"] = run });

        var error = result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);
        Assert.Equal("PrivateKeyUnusable", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(key, error.TargetObject?.ToString());
        Assert.NotEqual(ErrorCategory.NotSpecified, error.CategoryInfo.Category);
        Assert.Equal(connections, _agent.Connections);
        Assert.Equal(before, StoreFiles(store));
    }

    /// <summary>A release of service table 1.0.0, approved and tagged: ready for its pre-release stage in prod, where table-01 is.</summary>
    private void TagRelease(string store)
    {
        var template = _directory.WriteFile($"table-{Guid.NewGuid():N}.conf.template", "service={{Service}}\n");
        _fleet.Shell.Invoke("""
            param($Store, $Package, $Template)
            $release = New-Release -Name 'table release' -PreEnvironment prod -ProdEnvironment live -StorePath $Store
            $release | Add-ReleaseItem -Service table -Version 1.0.0 -PackageUrl $Package -ConfigPath $Template -StorePath $Store
            $release | Approve-Release -Comment 'reviewed' -StorePath $Store
            $release | Lock-Release -Comment 'ship it' -StorePath $Store
            """, new Hashtable { ["Store"] = store, ["Package"] = _fleet.PackageV1, ["Template"] = template }).ThrowOnError();
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
