using System.Diagnostics;
using ReleaseTools.Benchmarks.Baseline;
using ReleaseTools.Benchmarks.Sink;
using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Benchmarks.Peers;
using ReleaseTools.Engine.Store;
using ReleaseTools.Testing;

namespace ReleaseTools.Benchmarks.Scenarios;

/// <summary>
/// Fan-out as users run it: every agent is its own process started from a published build (docs/agent.md), and the
/// deployment is a pwsh process running <c>Get-ServiceInstance | Invoke-Deployment</c> against the built module. In
/// the same run, with the same package and target count: the raw HTTP baseline (sink processes that only write), the
/// mandatory-work floor (sink processes that write and compute the signature hash and the MD5), and the tools a user
/// would pick instead: parallel scp and Ansible's copy module to a private sshd on 127.0.0.1, and Copy-Item
/// -ToSession over SSH remoting. A peer that is not installed is reported missing (a missed target), never skipped
/// silently. CPU is read from /proc after every process has started, so start-up is not counted.
/// </summary>
public static class RealisticFanOutScenario
{
    private const string ReleaseTools = "ReleaseTools";
    private const string NextRelease = "ReleaseTools, next release in the same pwsh session";
    private const string RawHttp = "raw HTTP sinks";
    private const string Floor = "mandatory-work floor sinks";
    private const string Scp = "parallel scp";
    private const string Ansible = "Ansible copy";
    private const string Remoting = "Copy-Item -ToSession";

    public static async Task<ScenarioResult> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var packageMiB = options.GetInt("real-package-mib", 64);
        var targets = options.GetInt("real-targets", 32);
        var throttle = options.GetInt("real-throttle", targets);
        var repetitions = options.GetInt("real-repetitions", 1);
        var peers = (options.Get("real-peers") ?? "scp,ansible,remoting").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var agentEnvironment = PublishedBuilds.ParseEnvironment(options.Get("real-agent-env"));
        var result = new ScenarioResult("fanout-real",
            $"{packageMiB} MiB to {targets} targets on loopback, each target its own process; ReleaseTools through pwsh and the module");
        result.Parameters["packageMiB"] = packageMiB.ToString();
        result.Parameters["targets"] = targets.ToString();
        result.Parameters["throttle"] = throttle.ToString();
        result.Parameters["repetitions"] = repetitions.ToString();
        result.Parameters["peers"] = string.Join(",", peers);
        result.Parameters["agentEnvironment"] = options.Get("real-agent-env") ?? "";

        await using var world = new BenchWorld("fanout-real");
        var agentDirectory = await PublishedBuilds.GetAgentAsync(options, world, cancellationToken);
        result.Parameters["agentBuild"] = agentDirectory;
        var sinkDirectory = await PublishedBuilds.GetSinkAsync(options, world, cancellationToken);
        result.Parameters["sinkBuild"] = sinkDirectory;

        var sshMissing = PrivateSshServer.MissingReason();
        var pwshDll = FindPwshDll();
        // The remoting peer needs pwsh as an SSH subsystem on the server side (PowerShell's documented setup).
        var subsystem = pwshDll == null ? null : $"Subsystem powershell {DotnetHost()} {pwshDll} -sshs -NoLogo -NoProfile";
        var sshDirectory = world.Scratch.CreateDirectory("sshd");
        Task<PrivateSshServer> StartSsh() => PrivateSshServer.StartAsync(sshDirectory, subsystem, cancellationToken);

        var runs = new Dictionary<string, List<ToolRun>>();
        var missing = new Dictionary<string, string>();
        void Record(ToolRun run) => (runs.TryGetValue(run.Tool, out var list) ? list : runs[run.Tool] = []).Add(run);

        {
            for (var repetition = 0; repetition < repetitions; repetition++)
            {
                var seed = 1000 + repetition;
                var package = world.WritePackage($"real-{seed}.bin", packageMiB * 1024L * 1024L, seed);
                // Other bytes of the same size, so the second release in the session pushes as much as the first.
                var nextPackage = world.WritePackage($"real-{seed}-next.bin", packageMiB * 1024L * 1024L, seed + 7919);
                try
                {
                    Record(await RunSinksAsync(world, sinkDirectory, RawHttp, SinkWork.WriteOnly, package, targets, throttle, cancellationToken));
                    Record(await RunSinksAsync(world, sinkDirectory, Floor, SinkWork.MandatoryHashes, package, targets, throttle, cancellationToken));
                    var (first, next) = await RunReleaseToolsAsync(world, agentDirectory, agentEnvironment, package, nextPackage, targets, throttle, seed, cancellationToken);
                    Record(first);
                    Record(next);
                    foreach (var peer in peers)
                    {
                        var (tool, reason) = peer switch
                        {
                            "scp" => (Scp, sshMissing ?? Missing("/usr/bin/scp", "openssh-client")),
                            "ansible" => (Ansible, sshMissing ?? Missing("/usr/bin/ansible", "ansible")),
                            "remoting" => (Remoting, sshMissing ?? (pwshDll == null ? "pwsh (the dotnet tool of this repository) was not found: run dotnet tool restore" : null)),
                            _ => throw new ArgumentException($"Unknown peer '{peer}'. Peers: scp, ansible, remoting."),
                        };
                        if (reason != null)
                        {
                            missing[tool] = reason;
                            continue;
                        }

                        try
                        {
                            Record(peer switch
                            {
                                "scp" => await RunScpAsync(world, await StartSsh(), package, targets, cancellationToken),
                                "ansible" => await RunAnsibleAsync(world, await StartSsh(), package, targets, cancellationToken),
                                _ => await RunRemotingAsync(world, await StartSsh(), package, targets, pwshDll!, cancellationToken),
                            });
                        }
                        catch (Exception e) when (e is not OperationCanceledException)
                        {
                            // A peer that does not run here is reported with its reason; the other tools' figures stand.
                            missing[tool] = $"failed to run: {e.Message}";
                        }
                    }
                }
                finally
                {
                    BenchWorld.TryDelete(package);
                    BenchWorld.TryDelete(nextPackage);
                }
            }
        }

        Report(result, runs, missing, packageMiB * (double)targets);
        return result;
    }

    private static void Report(ScenarioResult result, Dictionary<string, List<ToolRun>> runs, Dictionary<string, string> missing, double totalMiB)
    {
        var medians = runs.ToDictionary(p => p.Key, p => new ToolRun(p.Key,
            Statistics.Median(p.Value.Select(r => r.Seconds).ToList()),
            Statistics.Median(p.Value.Select(r => r.ClientCpuSeconds).ToList()),
            Statistics.Median(p.Value.Select(r => r.ReceiverCpuSeconds).ToList())));
        foreach (var run in medians.Values)
        {
            result.Add($"{run.Tool}: wall", run.Seconds, "s");
            result.Add($"{run.Tool}: throughput", totalMiB / run.Seconds, "MiB/s");
            result.Add($"{run.Tool}: client CPU", run.ClientCpuSeconds, "CPU-s");
            result.Add($"{run.Tool}: receivers' CPU", run.ReceiverCpuSeconds, "CPU-s");
        }

        foreach (var (tool, reason) in missing)
        {
            result.Add($"{tool}: ran", 0, "", "= 1", false);
            result.Notes.Add($"{tool} is missing: {reason}");
        }

        if (!medians.TryGetValue(ReleaseTools, out var ours))
        {
            return;
        }

        var gib = totalMiB / 1024;
        void Ratio(string name, string baseline, Func<ToolRun, double> figure, double? limit, ToolRun? subject = null)
        {
            if (!medians.TryGetValue(baseline, out var other))
            {
                if (limit.HasValue)
                {
                    result.Add(name, double.NaN, "x", $"<= {limit} x", false);
                }

                return;
            }

            var ratio = figure(subject ?? ours) / figure(other);
            if (limit.HasValue)
            {
                result.AddAtMost(name, ratio, "x", limit.Value);
            }
            else
            {
                result.Add(name, ratio, "x");
            }
        }

        Ratio("ReleaseTools / parallel scp wall", Scp, r => r.Seconds, 0.75);
        Ratio("ReleaseTools / mandatory-work floor wall", Floor, r => r.Seconds, 1.15);
        Ratio("ReleaseTools / raw HTTP wall", RawHttp, r => r.Seconds, null);
        Ratio("ReleaseTools / Ansible copy wall", Ansible, r => r.Seconds, null);
        Ratio("ReleaseTools / Copy-Item -ToSession wall", Remoting, r => r.Seconds, null);
        result.Add("agents' CPU per GiB received", ours.ReceiverCpuSeconds / gib, "CPU-s/GiB");
        result.Add("largest agent peak resident set", PeakAgentResidentMiB, "MiB");
        if (medians.TryGetValue(Floor, out var floor))
        {
            result.Add("floor sinks' CPU per GiB received", floor.ReceiverCpuSeconds / gib, "CPU-s/GiB");
        }

        Ratio("agents' CPU / floor sinks' CPU", Floor, r => r.ReceiverCpuSeconds, 1.3);
        // The plain HttpClient that streams the same bytes is the client side of the raw HTTP run.
        Ratio("client CPU / plain HttpClient CPU", RawHttp, r => r.ClientCpuSeconds, 1.2);
        if (medians.TryGetValue(NextRelease, out var next))
        {
            // Not the target's figure (that is the first release above): what a console or runbook that has already
            // released once pays, with PowerShell, the engine and the HTTP stack compiled.
            Ratio("next release in the session: client CPU / plain HttpClient CPU", RawHttp, r => r.ClientCpuSeconds, null, next);
            Ratio("next release in the session: wall / mandatory-work floor wall", Floor, r => r.Seconds, null, next);
        }

        result.Notes.Add("Wall time is the fan-out alone: module import, agent and sink start-up and (for remoting) nothing else is outside it; New-PSSession is inside, as a user pays it.");
        result.Notes.Add($"{NextRelease}: the same pwsh process then releases another version from another package of the same size to the same agents (each agent's second push). Not a target figure: the targets are the first release's.");
        result.Notes.Add("Client CPU: the pwsh process during the pipeline; the plain HttpClient process during its fan-out; the whole process tree of scp/ansible/pwsh-remoting (ssh included). Receivers' CPU: the agent or sink processes, or the whole process tree of a private sshd started for that tool alone (sessions and the pwsh remoting subsystem included).");
    }

    /// <summary>One tool's run: wall seconds, the client side's CPU seconds and the receiving side's CPU seconds.</summary>
    private sealed record ToolRun(string Tool, double Seconds, double ClientCpuSeconds, double ReceiverCpuSeconds);

    private static async Task<ToolRun> RunSinksAsync(BenchWorld world, string sinkDirectory, string tool, SinkWork work, string package, int targets, int throttle, CancellationToken cancellationToken)
    {
        var directory = world.Scratch.CreateDirectory($"sinks-{work}");
        var sinks = new List<ListeningChild>();
        try
        {
            var benchmark = typeof(RealisticFanOutScenario).Assembly.Location;
            // Published like the agent (PublishedBuilds.GetSinkAsync): their start-up and compilation cost what the agent's do.
            sinks.AddRange(await Task.WhenAll(Enumerable.Range(0, targets).Select(i => ListeningChild.StartAsync(PublishedBuilds.Executable(sinkDirectory, "ReleaseTools.Benchmarks.Sink"),
                ["--sink-work", work == SinkWork.WriteOnly ? "write" : "hashes", "--dir", Path.Combine(directory, $"{i:D3}")],
                RawSinkServer.ListeningPrefix, cancellationToken))));
            var before = ProcessCpu.Sum(sinks.Select(s => s.ProcessId));
            var client = await ChildProcessMeasurement.RunAsync<ChildRun>($"{tool} client",
                [benchmark, "push-child", "--package", package, "--sinks", string.Join(',', sinks.Select(s => s.Address)), "--throttle", throttle.ToString()],
                TimeSpan.FromMinutes(15), cancellationToken);
            var receivers = ProcessCpu.Sum(sinks.Select(s => s.ProcessId)) - before;
            return new ToolRun(tool, client.Seconds, client.CpuSeconds, receivers);
        }
        finally
        {
            foreach (var sink in sinks)
            {
                await sink.DisposeAsync();
            }

            BenchWorld.TryDelete(directory);
        }
    }

    /// <summary>The largest peak resident set of any agent in this process's runs (one scenario per process).</summary>
    private static double PeakAgentResidentMiB;

    /// <summary>The first release through a fresh pwsh process, then the next release in that session (same agents, other bytes).</summary>
    private static async Task<(ToolRun First, ToolRun Next)> RunReleaseToolsAsync(BenchWorld world, string agentDirectory, IReadOnlyDictionary<string, string> agentEnvironment,
        string package, string nextPackage, int targets, int throttle, int seed, CancellationToken cancellationToken)
    {
        var agents = new List<AgentProcess>();
        try
        {
            agents.AddRange(await Task.WhenAll(Enumerable.Range(0, targets).Select(i => AgentProcess.StartPublishedAsync(agentDirectory,
                world.Scratch.CreateDirectory($"agent-{seed}-{i:D3}"), [world.Keys.PublicKeyPath], agentEnvironment, cancellationToken))));
            var service = $"real{seed}";
            await world.Store.RegisterInstancesAsync(agents.Select((agent, i) => new InstanceRegistration
            {
                InstanceId = $"{service}-{i:D3}", Service = service, Environment = "bench", Host = "127.0.0.1", Port = agent.Port,
            }).ToList(), cancellationToken);

            // The script reads the agents' CPU around each pipeline itself, so the two releases are told apart.
            var run = await ModuleDeployment.RunAsync(world, [service], $"1.0.{seed}", package, throttle, cancellationToken, next: ($"1.1.{seed}", nextPackage),
                receiverProcessIds: agents.Select(a => a.ProcessId));
            PeakAgentResidentMiB = Math.Max(PeakAgentResidentMiB, agents.Max(a => ProcessCpu.PeakResidentMiB(a.ProcessId)));
            if (run.Succeeded != targets)
            {
                throw new InvalidOperationException($"The deployment did not succeed everywhere: {run.Succeeded}/{targets} succeeded; {run.FirstError}");
            }

            if (run.SecondSucceeded != targets)
            {
                throw new InvalidOperationException($"The next release did not succeed everywhere: {run.SecondSucceeded}/{targets} succeeded.");
            }

            return (new ToolRun(ReleaseTools, run.Seconds, run.CpuSeconds, run.ReceiverCpuSeconds),
                new ToolRun(NextRelease, run.SecondSeconds ?? double.NaN, run.SecondCpuSeconds ?? double.NaN, run.SecondReceiverCpuSeconds ?? double.NaN));
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
                BenchWorld.TryDelete(agent.DataDirectory);
            }
        }
    }

    private static async Task<ToolRun> RunScpAsync(BenchWorld world, PrivateSshServer ssh, string package, int targets, CancellationToken cancellationToken)
    {
        var destination = world.Scratch.CreateDirectory("scp-target");
        try
        {
            // One scp per target, all at once, as `for h in $hosts; do scp pkg $h: & done; wait` does; any failure fails the run.
            var options = string.Join(' ', ssh.ClientOptions.Select(Quote));
            var script = $"pids=(); for i in $(seq 0 {targets - 1}); do scp -q -P {ssh.Port} {options} {Quote(package)} {ssh.User}@127.0.0.1:{Quote(destination)}/$i.bin & pids+=($!); done; " +
                         "status=0; for p in \"${pids[@]}\"; do wait $p || status=1; done; exit $status";
            return await RunTreeAsync(Scp, ssh, ["bash", "-c", script], null, destination, package, targets, cancellationToken);
        }
        finally
        {
            BenchWorld.TryDelete(destination);
        }
    }

    private static async Task<ToolRun> RunAnsibleAsync(BenchWorld world, PrivateSshServer ssh, string package, int targets, CancellationToken cancellationToken)
    {
        var destination = world.Scratch.CreateDirectory("ansible-target");
        var work = world.Scratch.CreateDirectory("ansible");
        try
        {
            // Every inventory host is the same sshd; each gets its own ControlPath so each keeps its own connection, as
            // distinct machines would (Ansible's default path is keyed by host, port and user, which would make them share one).
            var inventory = Path.Combine(work, "inventory.ini");
            await File.WriteAllLinesAsync(inventory, Enumerable.Range(0, targets).Select(i =>
                $"t{i:D3} ansible_host=127.0.0.1 ansible_port={ssh.Port} ansible_user={ssh.User} ansible_ssh_private_key_file={ssh.ClientKeyPath} " +
                $"ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ControlPath={work}/cm-{i:D3}'"), cancellationToken);
            var environment = new Dictionary<string, string>
            {
                ["ANSIBLE_HOST_KEY_CHECKING"] = "False",
                ["ANSIBLE_PYTHON_INTERPRETER"] = "/usr/bin/python3",
                ["ANSIBLE_LOCAL_TEMP"] = Path.Combine(work, "local-tmp"),
                ["ANSIBLE_REMOTE_TEMP"] = Path.Combine(work, "remote-tmp"),
                ["ANSIBLE_NOCOLOR"] = "1",
            };
            return await RunTreeAsync(Ansible, ssh,
                ["ansible", "all", "-i", inventory, "-f", targets.ToString(), "-m", "ansible.builtin.copy", "-a", $"src={package} dest={destination}/{{{{ inventory_hostname }}}}.bin"],
                environment, destination, package, targets, cancellationToken);
        }
        finally
        {
            BenchWorld.TryDelete(destination);
            BenchWorld.TryDelete(work);
        }
    }

    private static async Task<ToolRun> RunRemotingAsync(BenchWorld world, PrivateSshServer ssh, string package, int targets, string pwshDll, CancellationToken cancellationToken)
    {
        var destination = world.Scratch.CreateDirectory("remoting-target");
        try
        {
            return await RunTreeAsync(Remoting, ssh,
            [
                DotnetHost(), pwshDll, "-NoProfile", "-NonInteractive", "-File", Path.Combine(AppContext.BaseDirectory, "Scripts", "Copy-ToSessions.ps1"),
                "-PackagePath", package, "-DestinationDirectory", destination, "-Port", ssh.Port.ToString(), "-UserName", ssh.User,
                "-KeyFilePath", ssh.ClientKeyPath, "-Count", targets.ToString(),
            ], null, destination, package, targets, cancellationToken);
        }
        finally
        {
            BenchWorld.TryDelete(destination);
        }
    }

    /// <summary>
    /// Runs a peer's command line under measure_tree.py against its own sshd (stopped afterwards, which gives the server
    /// side's CPU) and checks that every target received the whole file.
    /// </summary>
    private static async Task<ToolRun> RunTreeAsync(string tool, PrivateSshServer ssh, IReadOnlyList<string> command, IReadOnlyDictionary<string, string>? environment,
        string destination, string package, int targets, CancellationToken cancellationToken)
    {
        TreeMeasurement run;
        double receivers;
        await using (ssh)
        {
            run = await ToolTreeRun.RunAsync(tool, command, TimeSpan.FromMinutes(15), environment, cancellationToken);
            receivers = await ssh.StopAsync(cancellationToken);
        }

        var expected = new FileInfo(package).Length;
        var delivered = Directory.GetFiles(destination).Count(f => new FileInfo(f).Length == expected);
        if (delivered != targets)
        {
            throw new InvalidOperationException($"{tool} delivered {delivered} of {targets} complete copies.");
        }

        return new ToolRun(tool, run.Seconds, run.CpuSeconds, receivers);
    }

    private static string? Missing(string path, string package) => File.Exists(path) ? null : $"{path} is not installed (apt-get install {package})";

    private static string? FindPwshDll()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ??
                       Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var root = Path.Combine(packages, "powershell");
        // The tool package holds a pwsh.dll per platform family (any/unix, any/win).
        var family = OperatingSystem.IsWindows() ? "win" : "unix";
        return Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "pwsh.dll", SearchOption.AllDirectories)
                .Where(p => Path.GetFileName(Path.GetDirectoryName(p)) == family)
                .OrderByDescending(p => p, StringComparer.Ordinal).FirstOrDefault()
            : null;
    }

    private static string DotnetHost() => Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''") + "'";

    private sealed record ChildRun(double Seconds, double CpuSeconds);
}
