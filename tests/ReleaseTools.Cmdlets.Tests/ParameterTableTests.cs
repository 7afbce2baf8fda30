using System.Collections;
using System.Management.Automation;
using System.Security.Cryptography;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// One table of hostile values for the parameters of Invoke-Deployment and Invoke-Rollback: each is refused with a
/// stable id, the offending value as target object, before any request leaves the machine (the package server and
/// the "agent" count what reached them) and with the store's files byte for byte as they were.
/// </summary>
public sealed class ParameterTableTests : IClassFixture<AgentFleet>, IDisposable
{
    private readonly AgentFleet _fleet;
    private readonly TempDirectory _directory = new("rt-table");
    private readonly LoopbackHttpServer _packages = new();
    private readonly LoopbackHttpServer _agent = new();
    private readonly string _packageUrl;

    public ParameterTableTests(AgentFleet fleet)
    {
        _fleet = fleet;
        _packageUrl = _packages.Serve("/table-1.0.0.bin", 200, "application/octet-stream", RandomNumberGenerator.GetBytes(2048));
    }

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var version in new[] { " ", "../1.0", "1.0\n", "1.0\u0001", "versión", new string('1', 300), "1.0 beta", "-1" })
        {
            data.Add("Version", version, "VersionInvalid");
        }

        data.Add("PackageUrl", " ", "PackageUrlMissing");
        data.Add("PackageUrl", "ftp://127.0.0.1/table-1.0.0.bin", "PackageUrlUnsupportedScheme");
        data.Add("PackageUrl", "javascript:alert(1)", "PackageUrlUnsupportedScheme");
        data.Add("PackageUrl", "http://", "PackageUrlInvalid");
        data.Add("PackageUrl", "http://exa mple.com/p.zip", "PackageUrlInvalid");
        data.Add("PackageUrl", "../no-such-package.zip", "PackageNotFound");
        data.Add("PackageUrl", "http://127.0.0.1/" + new string('a', 70000), "PackageUrlInvalid");
        data.Add("PrivateKeyPath", "NOT-PEM", "PrivateKeyUnusable");
        data.Add("PrivateKeyPath", "EC", "PrivateKeyUnusable");
        data.Add("PrivateKeyPath", "PUBLIC", "PrivateKeyUnusable");
        data.Add("PrivateKeyPath", "ENCRYPTED", "PrivateKeyUnusable");
        data.Add("PrivateKeyPath", "EMPTY", "PrivateKeyUnusable");
        data.Add("PrivateKeyPath", "MISSING", "PrivateKeyNotFound");
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_hostile_deployment_parameter_is_refused_by_id_with_its_value_before_any_request_and_the_store_unchanged(string parameter, string value, string errorId)
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, $"Register-ServiceInstance -InstanceId table-01 -Service table -Environment prod -HostName 127.0.0.1 -Port {_agent.Port}").ThrowOnError();
        var before = StoreFiles(store);
        var arguments = new Hashtable { ["Version"] = "1.0.0", ["PackageUrl"] = _packageUrl, ["PrivateKeyPath"] = _fleet.Keys.Pkcs8PrivateKeyPath };
        var expectedTarget = parameter == "PrivateKeyPath" ? KeyFile(value) : value;
        arguments[parameter] = expectedTarget;

        var result = _fleet.Shell.Invoke("param($Store, $Arguments) Invoke-Deployment -Service table -StorePath $Store @Arguments -Force",
            new Hashtable { ["Store"] = store, ["Arguments"] = arguments });

        var error = result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);
        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        // A local path is named as resolved (the file that was looked for); every other value exactly as given.
        if (errorId == "PackageNotFound")
        {
            Assert.Equal(Path.GetFullPath(Path.Combine(Environment.CurrentDirectory, value)), error.TargetObject?.ToString());
        }
        else
        {
            Assert.Equal(expectedTarget, error.TargetObject?.ToString());
        }

        Assert.NotEqual(ErrorCategory.NotSpecified, error.CategoryInfo.Category);
        Assert.Empty(result.Output);
        Assert.Equal(0, _agent.TotalRequests);
        Assert.Equal(0, _packages.Requests("/table-1.0.0.bin"));
        Assert.Equal(before, StoreFiles(store));
    }

    public static TheoryData<string> RollbackVersions() => new() { " ", "../1.0", "1.0\n", "1.0\u0001", "versión", new string('1', 300), "1.0 beta", "NUL" };

    [Theory]
    [MemberData(nameof(RollbackVersions))]
    public void A_hostile_rollback_version_is_refused_by_id_with_its_value_before_any_request_and_the_store_unchanged(string version)
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, $"Register-ServiceInstance -InstanceId table-01 -Service table -Environment prod -HostName 127.0.0.1 -Port {_agent.Port}").ThrowOnError();
        var before = StoreFiles(store);

        var result = _fleet.Shell.Invoke("param($Store, $Key, $Version) Invoke-Rollback -InstanceId table-01 -Version $Version -StorePath $Store -PrivateKeyPath $Key -Force",
            new Hashtable { ["Store"] = store, ["Key"] = _fleet.Keys.Pkcs8PrivateKeyPath, ["Version"] = version });

        var error = result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);
        Assert.Equal("VersionInvalid", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(version, error.TargetObject?.ToString());
        Assert.Equal(0, _agent.TotalRequests);
        Assert.Equal(before, StoreFiles(store));
    }

    [Theory]
    [InlineData("Version", "")]
    [InlineData("Version", null)]
    [InlineData("PackageUrl", "")]
    [InlineData("PackageUrl", null)]
    public void Empty_and_null_are_refused_by_parameter_binding_before_the_store_is_opened(string parameter, string? value)
    {
        var store = _fleet.NewStorePath();
        var arguments = new Hashtable { ["Version"] = "1.0.0", ["PackageUrl"] = _packageUrl, ["PrivateKeyPath"] = _fleet.Keys.Pkcs8PrivateKeyPath };
        arguments[parameter] = value;

        var result = _fleet.Shell.Invoke("param($Store, $Arguments) Invoke-Deployment -Service table -StorePath $Store @Arguments -Force",
            new Hashtable { ["Store"] = store, ["Arguments"] = arguments });

        var error = result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);
        Assert.StartsWith("ParameterArgumentValidationError", error.FullyQualifiedErrorId);
        Assert.False(File.Exists(store));
        Assert.Equal(0, _packages.Requests("/table-1.0.0.bin"));
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
        _packages.Dispose();
        _agent.Dispose();
        _directory.Dispose();
    }
}
