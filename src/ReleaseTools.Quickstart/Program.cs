using System.IO.Compression;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Security.Cryptography;
using ReleaseTools.Quickstart;

// Everything lives in one temporary folder that is removed at the end: keys, packages, store, agents' data.
var work = Directory.CreateTempSubdirectory("releasetools-quickstart-").FullName;
var agents = new List<AgentLauncher>();
try
{
    Console.WriteLine($"ReleaseTools quickstart (working folder {work})");
    var keyDirectory = Directory.CreateDirectory(Path.Combine(work, "keys")).FullName;
    var privateKeyPath = Path.Combine(keyDirectory, "deploy.pem");
    var publicKeyPath = Path.Combine(keyDirectory, "deploy.pub.pem");
    using (var rsa = RSA.Create(2048))
    {
        File.WriteAllText(privateKeyPath, rsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(publicKeyPath, rsa.ExportSubjectPublicKeyInfoPem());
    }

    var packages = new[] { "1.0.0", "1.1.0" }.Select(version => WritePackage(work, version)).ToArray();
    var configPath = Path.Combine(work, "demo.conf.template");
    File.WriteAllText(configPath, "service={{Service}}\nenvironment={{Environment}}\nversion={{Version}}\ngreeting={{Greeting}}\n");

    Console.WriteLine("Starting 3 Floyd agents on 127.0.0.1...");
    var starts = Enumerable.Range(1, 3)
        .Select(i => AgentLauncher.StartAsync(Directory.CreateDirectory(Path.Combine(work, $"agent-{i}")).FullName, publicKeyPath, TimeSpan.FromSeconds(60)))
        .ToList();
    foreach (var start in starts)
    {
        agents.Add(await start);
    }

    var state = InitialSessionState.CreateDefault2();
    if (OperatingSystem.IsWindows())
    {
        state.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass;
    }

    using var runspace = RunspaceFactory.CreateRunspace(new ConsoleHost(), state);
    runspace.Open();
    using var shell = PowerShell.Create();
    shell.Runspace = runspace;
    shell.AddCommand(BuildPaths.QuickstartScript)
        .AddParameter("ModulePath", Path.Combine(BuildPaths.ModuleDirectory, "ReleaseTools.psd1"))
        .AddParameter("AgentAddress", agents.Select(a => a.Address.Authority).ToArray())
        .AddParameter("StorePath", Path.Combine(work, "store", "releasetools.db"))
        .AddParameter("PrivateKeyPath", privateKeyPath)
        .AddParameter("PackagePath", packages)
        .AddParameter("ConfigPath", configPath);
    shell.AddCommand("Out-Default");
    shell.Invoke();
    foreach (var error in shell.Streams.Error)
    {
        Console.Error.WriteLine($"ERROR: {error} ({error.FullyQualifiedErrorId})");
    }

    if (shell.HadErrors)
    {
        Console.Error.WriteLine("The quickstart did not complete cleanly; see the errors above.");
        return 1;
    }

    Console.WriteLine("Quickstart complete.");
    return 0;
}
catch (Exception exception) when (exception is RuntimeException or InvalidOperationException or TimeoutException or IOException)
{
    Console.Error.WriteLine($"The quickstart failed: {exception.Message}");
    return 1;
}
finally
{
    foreach (var agent in agents)
    {
        agent.Dispose();
    }

    try
    {
        Directory.Delete(work, recursive: true);
    }
    catch (IOException)
    {
        // An agent may still be letting go of a file; the folder is in the system temp area.
    }
}

// A small but real package: a zip with the application's version in it.
static string WritePackage(string folder, string version)
{
    var path = Path.Combine(folder, $"demo-{version}.zip");
    using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
    using var writer = new StreamWriter(zip.CreateEntry("app/VERSION").Open());
    writer.WriteLine(version);
    return path;
}
