using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text.Json;

// Usage: ReleaseTools.ColdStartProbe --module-dir <folder with ReleaseTools.psd1> --store <sqlite file> --service <name>
// Prints one JSON object: milliseconds for process start to Main, runspace open, Import-Module, and the first query.
var arguments = args.Select((value, index) => (value, index)).Where(p => p.value.StartsWith("--", StringComparison.Ordinal))
    .ToDictionary(p => p.value[2..], p => args[p.index + 1]);
var sinceProcessStart = DateTime.Now - Process.GetCurrentProcess().StartTime;
var stopwatch = Stopwatch.StartNew();

var state = InitialSessionState.CreateDefault2();
using var runspace = RunspaceFactory.CreateRunspace(state);
runspace.Open();
var runspaceOpened = stopwatch.Elapsed;

using var shell = PowerShell.Create(runspace);
shell.AddCommand("Import-Module").AddParameter("Name", Path.Combine(arguments["module-dir"], "ReleaseTools.psd1")).AddParameter("ErrorAction", "Stop");
shell.Invoke();
var imported = stopwatch.Elapsed;

shell.Commands.Clear();
shell.AddCommand("Get-ServiceInstance").AddParameter("Service", arguments["service"]).AddParameter("StorePath", arguments["store"]).AddParameter("ErrorAction", "Stop");
var instances = shell.Invoke();
var firstQuery = stopwatch.Elapsed;

Console.WriteLine(JsonSerializer.Serialize(new
{
    processStartToMainMs = sinceProcessStart.TotalMilliseconds,
    runspaceOpenMs = runspaceOpened.TotalMilliseconds,
    importModuleMs = (imported - runspaceOpened).TotalMilliseconds,
    firstQueryMs = (firstQuery - imported).TotalMilliseconds,
    importPlusFirstQueryMs = (firstQuery - runspaceOpened).TotalMilliseconds,
    instancesReturned = instances.Count,
}));
return 0;
