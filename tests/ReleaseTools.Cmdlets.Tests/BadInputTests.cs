using System.Management.Automation;
using System.Security.Cryptography;
using System.Text;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// What a new user typed and what went wrong, repeated through the built module: a sign-in page as the package, a port
/// in the host name, a path as a service name, two instances at one address, a silent re-import, and run-stopping
/// failures that Azure Pipelines did not see.
/// </summary>
public sealed class BadInputTests : IClassFixture<AgentFleet>
{
    private const string LoginPage = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form action=\"/login\"><input name=\"user\"></form></body></html>\n";

    private readonly AgentFleet _fleet;

    public BadInputTests(AgentFleet fleet) => _fleet = fleet;

    private PowerShellResult Register(string store, string service, int port) =>
        _fleet.Invoke(store, $"Register-ServiceInstance -InstanceId {service}-01 -Service {service} -Environment prod -HostName 127.0.0.1 -Port {port}").ThrowOnError();

    [Theory]
    [InlineData("text/html; charset=utf-8", "login")]
    [InlineData("application/octet-stream", "login")]
    [InlineData("application/json", "json")]
    [InlineData("application/octet-stream", "empty")]
    public void A_package_URL_that_answers_with_a_page_instead_of_a_package_is_refused_before_any_agent_is_touched(string contentType, string body)
    {
        using var server = new LoopbackHttpServer();
        var bytes = body switch
        {
            "login" => Encoding.UTF8.GetBytes(LoginPage),
            "json" => Encoding.UTF8.GetBytes("{\"error\":\"unauthorized\"}"),
            _ => Array.Empty<byte>(),
        };
        var url = server.Serve("/releases/app-1.0.0.bin", 200, contentType, bytes);
        var store = _fleet.NewStorePath();
        Register(store, "login", _fleet.Agents[0].Port);

        var run = _fleet.Invoke(store, $"Invoke-Deployment -Service login -Version 1.0.0 -PackageUrl '{url}' -Force");

        var error = RunStoppingError(run);
        Assert.StartsWith("PackageNotAPackage,", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal(url, error.TargetObject);
        Assert.Contains("-Checksum", error.Exception.Message);
        Assert.Contains("-SkipPackageContentCheck", error.Exception.Message);
        Assert.True(server.Requests("/releases/app-1.0.0.bin") >= 1);
        Assert.Empty(run.Output);
        // Nothing reached the agent, and the store records no release.
        var instance = Assert.Single(_fleet.Invoke(store, "Get-ServiceInstance -Service login").ThrowOnError().Output);
        Assert.Null(instance.Properties["Version"].Value);
        Assert.Empty(_fleet.Invoke(store, "Get-ServiceInstance -Service login | Get-InstanceVersionHistory").ThrowOnError().Output);
        var health = Assert.Single(_fleet.Invoke(store, "Get-ServiceInstance -Service login | Test-ServiceInstance").ThrowOnError().Output);
        Assert.NotEqual("1.0.0", health.Properties["Version"].Value);
    }

    [Fact]
    public void A_checksum_or_an_explicit_switch_accepts_bytes_that_look_like_a_page()
    {
        using var server = new LoopbackHttpServer();
        var bytes = Encoding.UTF8.GetBytes(LoginPage);
        var url = server.Serve("/releases/page-1.0.0.bin", 200, "text/html", bytes);
        var md5 = Convert.ToHexString(MD5.HashData(bytes)).ToLowerInvariant();
        var store = _fleet.NewStorePath();
        Register(store, "page", _fleet.Agents[1].Port);

        var withChecksum = _fleet.Invoke(store, $"Invoke-Deployment -Service page -Version 1.0.0 -PackageUrl '{url}' -Checksum {md5} -Force").ThrowOnError();
        Assert.Equal("Succeeded", Assert.Single(withChecksum.Output).Properties["Status"].Value.ToString());

        var url2 = server.Serve("/releases/page-1.0.1.bin", 200, "text/html", bytes.Concat(new byte[] { 10 }).ToArray());
        var withSwitch = _fleet.Invoke(store, $"Invoke-Deployment -Service page -Version 1.0.1 -PackageUrl '{url2}' -SkipPackageContentCheck -Force").ThrowOnError();
        Assert.Equal("Succeeded", Assert.Single(withSwitch.Output).Properties["Status"].Value.ToString());
        Assert.Equal("1.0.1", Assert.Single(_fleet.Invoke(store, "Get-ServiceInstance -Service page").ThrowOnError().Output).Properties["Version"].Value);
    }

    [Theory]
    [InlineData("HostName", "127.0.0.1:7070", "HostNameInvalid")]
    [InlineData("HostName", "http://web-01.internal", "HostNameInvalid")]
    [InlineData("HostName", "[::1]:7070", "HostNameInvalid")]
    [InlineData("HostName", " ", "HostNameInvalid")]
    [InlineData("HostName", "web 01", "HostNameInvalid")]
    [InlineData("Service", "../etc", "ServiceNameInvalid")]
    [InlineData("Service", "a/b", "ServiceNameInvalid")]
    [InlineData("Service", " ", "ServiceNameInvalid")]
    [InlineData("Service", "wéb", "ServiceNameInvalid")]
    [InlineData("Service", "web\u0001", "ServiceNameInvalid")]
    [InlineData("Service", "LONG", "ServiceNameInvalid")]
    [InlineData("Environment", "../prod", "EnvironmentNameInvalid")]
    [InlineData("Environment", "prod\n", "EnvironmentNameInvalid")]
    [InlineData("InstanceId", "../web-09", "InstanceIdInvalid")]
    [InlineData("InstanceId", "web-*", "InstanceIdInvalid")]
    [InlineData("InstanceId", "\t", "InstanceIdInvalid")]
    public void A_registration_value_that_cannot_work_is_refused_by_name_and_the_store_stays_byte_for_byte_the_same(string parameter, string value, string errorId)
    {
        if (value == "LONG")
        {
            value = new string('s', 5000);
        }

        var store = _fleet.NewStorePath();
        Register(store, "good", 7001);
        var before = StoreBytes(store);
        var values = new Dictionary<string, string> { ["InstanceId"] = "web-09", ["Service"] = "web", ["Environment"] = "prod", ["HostName"] = "10.0.0.9" };
        values[parameter] = value;

        var result = _fleet.Shell.Invoke(AgentFleet.Prologue.Replace("param($Store, $Key, $V1, $V2, $Config, $Ports)", "param($Store, $Key, $V1, $V2, $Config, $Ports, $Row)") +
            "Register-ServiceInstance -InstanceId $Row.InstanceId -Service $Row.Service -Environment $Row.Environment -HostName $Row.HostName -Port 7070; 'continued'",
            new System.Collections.Hashtable(AgentFleet.Parameters(_fleet, store, null)) { ["Row"] = values });

        Assert.Null(result.Terminating);
        Assert.Equal("continued", Assert.Single(result.Output).BaseObject);
        var error = Assert.Single(result.Errors);
        Assert.Equal(errorId + ",ReleaseTools.Commands.RegisterServiceInstanceCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(value, error.TargetObject);
        Assert.Contains(parameter == "InstanceId" ? "instance id" : parameter == "HostName" ? "host name" : parameter.ToLowerInvariant(), error.Exception.Message);
        Assert.DoesNotContain(error.Exception.Message, c => char.IsControl(c));
        Assert.True(error.Exception.Message.Length < 600, "The message quotes a shortened value.");
        Assert.Equal(before, StoreBytes(store));
    }

    [Fact]
    public void A_bad_row_in_an_inventory_is_reported_and_the_good_rows_are_registered()
    {
        var store = _fleet.NewStorePath();
        var result = _fleet.Invoke(store, """
            @(
                [pscustomobject]@{ InstanceId = 'inv-01'; Service = 'inv'; Environment = 'prod'; Host = '10.0.1.1'; Port = 7070 }
                [pscustomobject]@{ InstanceId = 'inv-02'; Service = 'inv'; Environment = 'prod'; Host = '10.0.1.2:7070'; Port = 7070 }
                [pscustomobject]@{ InstanceId = 'inv-03'; Service = 'inv'; Environment = 'prod'; Host = '10.0.1.3'; Port = 7070 }
            ) | Register-ServiceInstance -PassThru
            """);

        Assert.Equal(new[] { "inv-01", "inv-03" }, result.Values<string>("InstanceId"));
        Assert.Equal("10.0.1.2:7070", Assert.Single(result.Errors).TargetObject);
    }

    [Fact]
    public void Two_instances_at_one_host_and_port_are_refused_without_Force_and_registered_with_a_warning_with_it()
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, "Register-ServiceInstance -InstanceId dup-01 -Service dup -Environment prod -HostName 10.0.2.1 -Port 7070").ThrowOnError();

        var refused = _fleet.Invoke(store, "Register-ServiceInstance -InstanceId dup-02 -Service dup -Environment prod -HostName 10.0.2.1 -Port 7070");
        var error = Assert.Single(refused.Errors);
        Assert.StartsWith("InstanceAddressInUse,", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ResourceExists, error.CategoryInfo.Category);
        Assert.Equal("dup-02", error.TargetObject);
        Assert.Contains("'dup-01'", error.Exception.Message);
        Assert.Contains("-Force", error.Exception.Message);
        Assert.Single(_fleet.Invoke(store, "Get-ServiceInstance -Service dup").ThrowOnError().Output);

        // Re-registering the same instance at its own address is no conflict; -Force registers the second with a warning.
        _fleet.Invoke(store, "Register-ServiceInstance -InstanceId dup-01 -Service dup -Environment prod -HostName 10.0.2.1 -Port 7070 -Tags a").ThrowOnError();
        var forced = _fleet.Invoke(store, "Register-ServiceInstance -InstanceId dup-02 -Service dup -Environment prod -HostName 10.0.2.1 -Port 7070 -Force").ThrowOnError();
        Assert.Contains(forced.Warnings, w => w.Contains("dup-01", StringComparison.Ordinal));
        Assert.Equal(2, _fleet.Invoke(store, "Get-ServiceInstance -Service dup").ThrowOnError().Output.Count);
    }

    [Fact]
    public void A_re_import_says_what_it_added_changed_and_left_alone_and_leaves_unchanged_rows_update_times()
    {
        var store = _fleet.NewStorePath();
        // Rows as Import-Csv gives them: every value a string, tags joined with ';'.
        const string Rows = """
            function Get-Rows {
                [pscustomobject]@{ InstanceId = 'csv-01'; Service = 'csv'; Environment = 'prod'; Host = '10.0.3.1'; Port = '7070'; Tags = 'blue' }
                [pscustomobject]@{ InstanceId = 'csv-02'; Service = 'csv'; Environment = 'prod'; Host = '10.0.3.2'; Port = '7070'; Tags = '' }
                [pscustomobject]@{ InstanceId = 'csv-03'; Service = 'csv'; Environment = 'prod'; Host = '10.0.3.3'; Port = '7070'; Tags = 'a;b' }
            }

            """;
        var first = _fleet.Invoke(store, Rows + "Get-Rows | Register-ServiceInstance -InformationVariable info -Verbose 4>&1; $info").ThrowOnError();
        Assert.Equal("Registered instances: 3 added, 0 changed, 0 unchanged.", first.Output.Last().ToString());
        Assert.Equal(3, first.Output.Count(o => o.ToString()!.StartsWith("Added: csv-0", StringComparison.Ordinal)));
        var times = UpdateTimes(store);

        Thread.Sleep(20);
        var again = _fleet.Invoke(store, Rows + "Get-Rows | Register-ServiceInstance -InformationVariable info -Verbose 4>&1; $info").ThrowOnError();
        Assert.Equal("Registered instances: 0 added, 0 changed, 3 unchanged.", again.Output.Last().ToString());
        Assert.Equal(3, again.Output.Count(o => o.ToString()!.StartsWith("Unchanged: csv-0", StringComparison.Ordinal)));
        Assert.Equal(times, UpdateTimes(store));

        var changed = _fleet.Invoke(store, Rows + """
            Get-Rows | ForEach-Object { if ($_.InstanceId -eq 'csv-02') { $_.Host = '10.0.3.22' }; $_ } |
                Register-ServiceInstance -InformationVariable info -Verbose 4>&1
            $info
            """).ThrowOnError();
        Assert.Equal("Registered instances: 0 added, 1 changed, 2 unchanged.", changed.Output.Last().ToString());
        Assert.Contains(changed.Output, o => o.ToString() == "Changed: csv-02: Host '10.0.3.2' -> '10.0.3.22'.");
        var after = UpdateTimes(store);
        Assert.Equal(times["csv-01"], after["csv-01"]);
        Assert.Equal(times["csv-03"], after["csv-03"]);
        Assert.NotEqual(times["csv-02"], after["csv-02"]);
    }

    [Fact]
    public void Under_Azure_Pipelines_a_run_stopping_checksum_mismatch_logs_an_error_and_fails_the_task()
    {
        var store = _fleet.NewStorePath();
        Register(store, "azure", _fleet.Agents[0].Port);

        var run = _fleet.Invoke(store, """
            $env:TF_BUILD = 'True'
            try { Invoke-Deployment -Service azure -Version 1.0.0 -PackageUrl $V1 -Checksum 00000000000000000000000000000000 -Force }
            finally { $env:TF_BUILD = $null }
            """);

        Assert.StartsWith("PackageChecksumMismatch,", RunStoppingError(run).FullyQualifiedErrorId);
        var lines = run.Information.Where(i => i.Tags.Contains("AzureDevOps")).Select(i => i.MessageData.ToString()!).ToList();
        Assert.Equal(2, lines.Count);
        Assert.StartsWith("##vso[task.logissue type=error;code=PackageChecksumMismatch]", lines[0]);
        Assert.DoesNotContain("\n", lines[0]);
        Assert.Equal("##vso[task.complete result=Failed;]", lines[1]);
    }

    [Fact]
    public void Under_Azure_Pipelines_a_key_that_cannot_sign_logs_an_error_and_fails_the_task_before_any_download()
    {
        using var server = new LoopbackHttpServer();
        var url = server.Serve("/azkey-1.0.0.bin", 200, "application/octet-stream", RandomNumberGenerator.GetBytes(4096));
        var store = _fleet.NewStorePath();
        Register(store, "azkey", _fleet.Agents[0].Port);

        var run = _fleet.Invoke(store, $$"""
            $env:TF_BUILD = 'True'
            try { Invoke-Deployment -Service azkey -Version 1.0.0 -PackageUrl '{{url}}' -PrivateKeyPath '{{_fleet.Keys.PublicKeyPath}}' -Force }
            finally { $env:TF_BUILD = $null }
            """);

        var error = RunStoppingError(run);
        var id = error.FullyQualifiedErrorId.Split(',')[0];
        Assert.Equal("PrivateKeyUnusable", id);
        var lines = run.Information.Where(i => i.Tags.Contains("AzureDevOps")).Select(i => i.MessageData.ToString()!).ToList();
        Assert.Equal(2, lines.Count);
        Assert.StartsWith($"##vso[task.logissue type=error;code={id}]", lines[0]);
        Assert.Equal("##vso[task.complete result=Failed;]", lines[1]);
        Assert.Equal(0, server.Requests("/azkey-1.0.0.bin"));
        Assert.Null(Assert.Single(_fleet.Invoke(store, "Get-ServiceInstance -Service azkey").ThrowOnError().Output).Properties["Version"].Value);
    }

    /// <summary>The one error that stopped the cmdlet (a script goes on after a statement-terminating error, so it lands in Errors).</summary>
    private static ErrorRecord RunStoppingError(PowerShellResult run) => run.Terminating?.ErrorRecord ?? Assert.Single(run.Errors);

    private static Dictionary<string, byte[]> StoreBytes(string store)
    {
        var directory = Path.GetDirectoryName(store)!;
        var name = Path.GetFileName(store);
        return Directory.GetFiles(directory).Where(f => Path.GetFileName(f).StartsWith(name, StringComparison.Ordinal))
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
    }

    private Dictionary<string, string> UpdateTimes(string store) =>
        _fleet.Invoke(store, "Get-ServiceInstance -Service csv").ThrowOnError().Output
            .ToDictionary(o => (string)o.Properties["InstanceId"].Value, o => ((DateTimeOffset)o.Properties["UpdatedAt"].Value).ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
}
