using System.Collections;
using System.Management.Automation;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>The instance registry through the cmdlets, against a real SQLite store file.</summary>
public sealed class RegistryTests : IClassFixture<ModulePackagingTests.Session>, IDisposable
{
    private readonly PowerShellSession _shell;
    private readonly TempDirectory _directory = new("rt-registry");

    public RegistryTests(ModulePackagingTests.Session session) => _shell = session.Shell;

    private string StorePath => _directory.Combine("store.db");

    private PowerShellResult Invoke(string script) => _shell.Invoke("param($Store) " + script, new Hashtable { ["Store"] = StorePath });

    [Fact]
    public void Pscustomobject_inventory_rows_bind_by_property_name_into_Register_ServiceInstance()
    {
        var registered = Invoke("""
            @(
                [pscustomobject]@{ InstanceId = 'web-01'; Service = 'web'; Environment = 'prod'; Host = '10.0.0.11'; Port = 7070; Tags = @('blue') }
                [pscustomobject]@{ InstanceId = 'web-02'; Service = 'web'; Environment = 'prod'; Host = '10.0.0.12'; Port = '7071' }
                [pscustomobject]@{ InstanceId = 'api-01'; Service = 'api'; Environment = 'staging'; Host = 'api.internal'; Port = 8080 }
            ) | Register-ServiceInstance -StorePath $Store -PassThru
            """).ThrowOnError();

        Assert.Equal(new[] { "web-01", "web-02", "api-01" }, registered.Values<string>("InstanceId"));
        Assert.All(registered.Output, o => Assert.Equal("ReleaseTools.ServiceInstance", o.TypeNames[0]));

        var listed = Invoke("Get-ServiceInstance -Service web -StorePath $Store").ThrowOnError();
        var web02 = Assert.Single(listed.Output, o => (string)o.Properties["InstanceId"].Value == "web-02");
        Assert.Equal("10.0.0.12", web02.Properties["Host"].Value);
        Assert.Equal(7071, web02.Properties["Port"].Value);
        Assert.Equal("prod", web02.Properties["Environment"].Value);
        Assert.Equal("ReleaseTools.ServiceInstance", listed.Output[0].TypeNames[0]);
        Assert.Equal(new[] { "blue" }, (IEnumerable<string>)Assert.Single(listed.Output, o => (string)o.Properties["InstanceId"].Value == "web-01").Properties["Tags"].Value);
    }

    [Fact]
    public void Registering_an_existing_id_updates_its_address_instead_of_duplicating_it()
    {
        Invoke("Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName old.internal -Port 7070 -StorePath $Store").ThrowOnError();
        Invoke("Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName new.internal -Port 7171 -StorePath $Store").ThrowOnError();

        var listed = Invoke("Get-ServiceInstance -StorePath $Store").ThrowOnError();

        var only = Assert.Single(listed.Output);
        Assert.Equal("new.internal", only.Properties["Host"].Value);
        Assert.Equal(7171, only.Properties["Port"].Value);
    }

    [Fact]
    public void Get_ServiceInstance_filters_with_wildcards_and_reports_a_missing_literal_id_as_a_non_terminating_error()
    {
        RegisterThree();

        var wildcard = Invoke("Get-ServiceInstance -InstanceId 'web-*' -StorePath $Store | ForEach-Object InstanceId").ThrowOnError();
        Assert.Equal(new[] { "web-01", "web-02" }, wildcard.Output.Select(o => (string)o.BaseObject).Order());

        var missing = Invoke("Get-ServiceInstance -InstanceId web-01, web-99 -StorePath $Store");
        Assert.Null(missing.Terminating);
        Assert.Equal("web-01", Assert.Single(missing.Output).Properties["InstanceId"].Value);
        var error = Assert.Single(missing.Errors);
        Assert.StartsWith("InstanceNotFound,", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Equal("web-99", error.TargetObject);
    }

    [Fact]
    public void Instances_pipe_into_Get_InstanceVersionHistory_by_property_name()
    {
        RegisterThree();

        var history = Invoke("Get-ServiceInstance -Service web -StorePath $Store | Get-InstanceVersionHistory -StorePath $Store");

        // Never deployed: no history, and no error because the instances exist.
        Assert.Empty(history.Errors);
        Assert.Empty(history.Output);
        var unknown = Invoke("Get-InstanceVersionHistory -InstanceId nope -StorePath $Store");
        Assert.StartsWith("InstanceNotFound,", Assert.Single(unknown.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void Unregister_removes_instances_keeps_going_past_a_missing_id_and_honours_WhatIf()
    {
        RegisterThree();

        Invoke("Unregister-ServiceInstance -InstanceId web-01 -WhatIf -StorePath $Store").ThrowOnError();
        Assert.Equal(3, Invoke("Get-ServiceInstance -StorePath $Store").ThrowOnError().Output.Count);

        var removed = Invoke("'web-01', 'ghost', 'web-02' | ForEach-Object { [pscustomobject]@{ InstanceId = $_ } } | Unregister-ServiceInstance -PassThru -StorePath $Store");

        Assert.Equal(new[] { "web-01", "web-02" }, removed.Values<string>("InstanceId"));
        Assert.Equal("ghost", Assert.Single(removed.Errors).TargetObject);
        Assert.Equal(new[] { "api-01" }, Invoke("Get-ServiceInstance -StorePath $Store").ThrowOnError().Values<string>("InstanceId"));
    }

    [Fact]
    public void Register_with_WhatIf_creates_no_instance()
    {
        Invoke("Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName h -Port 1 -WhatIf -StorePath $Store").ThrowOnError();

        Assert.Empty(Invoke("Get-ServiceInstance -StorePath $Store").ThrowOnError().Output);
    }

    [Fact]
    public void Tab_completion_offers_service_names_and_versions_from_the_store()
    {
        RegisterThree();

        var line = $"Get-ServiceInstance -StorePath '{StorePath}' -Service w";
        var completion = _shell.Run("(TabExpansion2 -inputScript $args[0] -cursorColumn $args[0].Length).CompletionMatches | ForEach-Object CompletionText", line).ThrowOnError();

        Assert.Equal(new[] { "web" }, completion.Output.Select(o => (string)o.BaseObject));
    }

    [Fact]
    public void An_invalid_port_is_rejected_by_parameter_validation_before_the_store_is_touched()
    {
        var result = Invoke("Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName h -Port 70000 -StorePath $Store");

        Assert.Contains(result.Errors.Concat(result.Terminating is null ? [] : new[] { result.Terminating.ErrorRecord }), e => e.FullyQualifiedErrorId.StartsWith("ParameterArgumentValidationError", StringComparison.Ordinal));
        Assert.False(File.Exists(StorePath));
    }

    [Fact]
    public void A_file_that_is_not_a_store_is_a_terminating_invalid_data_error_and_is_left_untouched()
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes("these are somebody's notes, not a database\n");
        File.WriteAllBytes(StorePath, bytes);

        var result = Invoke("try { Get-ServiceInstance -StorePath $Store; 'continued' } catch { $_ }");

        var error = Assert.IsType<ErrorRecord>(Assert.Single(result.Output).BaseObject);
        Assert.Matches("^Store(Corrupt|Foreign),", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal(bytes, File.ReadAllBytes(StorePath));
    }

    private void RegisterThree() => Invoke("""
        Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName 10.0.0.11 -Port 7070 -StorePath $Store
        Register-ServiceInstance -InstanceId web-02 -Service web -Environment prod -HostName 10.0.0.12 -Port 7070 -StorePath $Store
        Register-ServiceInstance -InstanceId api-01 -Service api -Environment prod -HostName 10.0.0.21 -Port 7070 -StorePath $Store
        """).ThrowOnError();

    public void Dispose() => _directory.Dispose();
}
