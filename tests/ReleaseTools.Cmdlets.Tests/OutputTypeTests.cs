using System.Collections;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>The module's output types as PowerShell sees them: enum states that match the engine's, readable property types.</summary>
public sealed class OutputTypeTests : IClassFixture<ModulePackagingTests.Session>, IDisposable
{
    private readonly PowerShellSession _shell;
    private readonly TempDirectory _directory = new("rt-output-types");

    public OutputTypeTests(ModulePackagingTests.Session session) => _shell = session.Shell;

    [Theory]
    [InlineData("ReleaseTools.ServiceInstanceStatus", "ReleaseTools.Engine.Store.InstanceStatus")]
    [InlineData("ReleaseTools.ReleaseDeploymentStatus", "ReleaseTools.Engine.Store.DeploymentStatus")]
    [InlineData("ReleaseTools.DeploymentTargetStatus", "ReleaseTools.Engine.Store.TargetStatus")]
    [InlineData("ReleaseTools.ReleaseOperation", "ReleaseTools.Engine.Store.DeploymentOperation")]
    public void Every_engine_state_has_a_module_enum_value_of_the_same_name(string moduleEnum, string engineEnum)
    {
        // Reading the store loads the engine (into the module's own load context on PowerShell 7).
        var result = _shell.Invoke("""
            param($Store, $ModuleEnum, $EngineEnum)
            $null = Get-ServiceInstance -StorePath $Store
            $engine = [AppDomain]::CurrentDomain.GetAssemblies().Where({ $_.GetName().Name -eq 'ReleaseTools.Engine' }, 'First')[0]
            [pscustomobject]@{ Module = ($ModuleEnum -as [type]).GetEnumNames(); Engine = $engine.GetType($EngineEnum, $true).GetEnumNames() }
            """, new Hashtable { ["Store"] = _directory.Combine("store.db"), ["ModuleEnum"] = moduleEnum, ["EngineEnum"] = engineEnum }).ThrowOnError();

        var names = Assert.Single(result.Output);
        var module = ((IEnumerable)names.Properties["Module"].Value).Cast<object>().Select(o => o.ToString()).ToList();
        var engine = ((IEnumerable)names.Properties["Engine"].Value).Cast<object>().Select(o => o.ToString()).ToList();
        Assert.NotEmpty(engine);
        Assert.Equal(engine.Order(), module.Order());
    }

    [Fact]
    public void Output_types_expose_no_TimeSpan_and_no_plain_array_that_CSV_or_JSON_would_print_badly()
    {
        var result = _shell.Run("""
            'ServiceInstance', 'DeploymentResult', 'VersionHistoryEntry', 'ReleaseDeployment', 'DeploymentTarget', 'DeploymentBatchState', 'InstanceHealth' |
                ForEach-Object { ("ReleaseTools.$_" -as [type]).GetProperties() } |
                Where-Object { $_.PropertyType -eq [timespan] -or $_.PropertyType.IsArray } |
                ForEach-Object { "$($_.DeclaringType.Name).$($_.Name)" }
            """).ThrowOnError();

        Assert.Empty(result.Output);
    }

    public void Dispose() => _directory.Dispose();
}
