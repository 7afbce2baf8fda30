using System.Management.Automation;
using System.Management.Automation.Language;
using System.Reflection;
using System.Runtime.Loader;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>The assembled module folder behaves like a first-class module: manifest, exports, version, loading.</summary>
public sealed class ModulePackagingTests : IClassFixture<ModulePackagingTests.Session>
{
    public sealed class Session : IDisposable
    {
        public PowerShellSession Shell { get; } = new PowerShellSession();

        public void Dispose() => Shell.Dispose();
    }

    private readonly PowerShellSession _shell;

    public ModulePackagingTests(Session session) => _shell = session.Shell;

    [Fact]
    public void Test_ModuleManifest_accepts_the_built_manifest()
    {
        var result = _shell.Run("Test-ModuleManifest -Path $args[0]", PowerShellSession.ManifestPath).ThrowOnError();

        var module = Assert.IsType<PSModuleInfo>(Assert.Single(result.Output).BaseObject);
        Assert.Equal("ReleaseTools", module.Name);
        Assert.Equal(ManifestVersion(), module.Version);
        Assert.Contains("Core", module.CompatiblePSEditions);
        Assert.Contains("Desktop", module.CompatiblePSEditions);
    }

    [Fact]
    public void Manifest_version_is_the_assembly_version_of_the_cmdlets_and_the_engine()
    {
        var manifestVersion = ManifestVersion();
        var cmdlets = AssemblyName.GetAssemblyName(Path.Combine(TestPaths.ModuleDirectory, "ReleaseTools.dll")).Version!;
        var engine = AssemblyName.GetAssemblyName(Path.Combine(TestPaths.ModuleDirectory, "Dependencies", "ReleaseTools.Engine.dll")).Version!;

        Assert.Equal(manifestVersion, new Version(cmdlets.Major, cmdlets.Minor, cmdlets.Build));
        Assert.Equal(manifestVersion, new Version(engine.Major, engine.Minor, engine.Build));
        var loaded = _shell.Run("(Get-Module ReleaseTools).Version").ThrowOnError();
        Assert.Equal(manifestVersion, Assert.Single(loaded.Output).BaseObject);
    }

    [Fact]
    public void Get_Command_lists_exactly_the_cmdlets_the_manifest_exports_and_the_assembly_defines()
    {
        var exported = ManifestList("CmdletsToExport");
        var commands = _shell.Run("Get-Command -Module ReleaseTools | ForEach-Object Name").ThrowOnError().Output.Select(o => (string)o.BaseObject).Order().ToList();
        var defined = _shell.Run(
            "(Get-Command Get-ServiceInstance).ImplementingType.Assembly.GetTypes() | " +
            "ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } | " +
            "ForEach-Object { $_.VerbName + '-' + $_.NounName }").ThrowOnError().Output.Select(o => (string)o.BaseObject).Order().ToList();

        Assert.Equal(exported.Order().ToList(), commands);
        Assert.Equal(exported.Order().ToList(), defined);
        Assert.Empty(ManifestList("FunctionsToExport"));
        Assert.Empty(ManifestList("AliasesToExport"));
        Assert.Empty(ManifestList("VariablesToExport"));
    }

    [Fact]
    public void Every_exported_cmdlet_declares_its_output_type()
    {
        var missing = _shell.Run("Get-Command -Module ReleaseTools | Where-Object { $_.OutputType.Count -eq 0 } | ForEach-Object Name").ThrowOnError();

        Assert.Empty(missing.Output);
    }

    [Fact]
    public void Engine_and_its_dependencies_load_into_the_module_load_context_from_the_Dependencies_folder()
    {
        // Any store operation needs the engine; SQLite was initialised at import.
        using var directory = new TempDirectory();
        _shell.Run("Get-ServiceInstance -StorePath $args[0]", Path.Combine(directory.Path, "store.db")).ThrowOnError();

        var dependencies = Path.GetFullPath(Path.Combine(TestPaths.ModuleDirectory, "Dependencies")) + Path.DirectorySeparatorChar;
        foreach (var name in new[] { "ReleaseTools.Engine", "Microsoft.Data.Sqlite", "SQLitePCLRaw.core" })
        {
            var assembly = Assert.Single(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == name);
            var context = AssemblyLoadContext.GetLoadContext(assembly)!;
            Assert.NotSame(AssemblyLoadContext.Default, context);
            Assert.Equal("ReleaseTools.Dependencies", context.Name);
            Assert.StartsWith(dependencies, assembly.Location);
        }

        var cmdlets = Assert.Single(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "ReleaseTools");
        Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(cmdlets));
    }

    [Fact]
    public void Native_sqlite_is_the_library_shipped_in_the_module()
    {
        var runtimes = Path.GetFullPath(Path.Combine(TestPaths.ModuleDirectory, "Dependencies", "runtimes"));
        var sqlite = System.Diagnostics.Process.GetCurrentProcess().Modules.Cast<System.Diagnostics.ProcessModule>()
            .Where(m => Path.GetFileName(m.FileName).Contains("e_sqlite3", StringComparison.Ordinal))
            .Select(m => m.FileName)
            .ToList();

        var loaded = Assert.Single(sqlite);
        Assert.StartsWith(runtimes, loaded);
    }

    private static Version ManifestVersion() => Version.Parse(Assert.Single(ManifestEntry("ModuleVersion")));

    private static List<string> ManifestList(string key) => ManifestEntry(key);

    /// <summary>Values of one key of the root manifest, read with PowerShell's own parser.</summary>
    private static List<string> ManifestEntry(string key)
    {
        var ast = Parser.ParseFile(Path.Combine(TestPaths.RepoRoot, "ReleaseTools.psd1"), out _, out var errors);
        Assert.Empty(errors);
        var table = (HashtableAst)ast.Find(a => a is HashtableAst, searchNestedScriptBlocks: false)!;
        var pair = table.KeyValuePairs.Single(p => string.Equals(((StringConstantExpressionAst)p.Item1).Value, key, StringComparison.OrdinalIgnoreCase));
        return pair.Item2.FindAll(a => a is StringConstantExpressionAst, searchNestedScriptBlocks: false).Select(a => ((StringConstantExpressionAst)a).Value).ToList();
    }
}
