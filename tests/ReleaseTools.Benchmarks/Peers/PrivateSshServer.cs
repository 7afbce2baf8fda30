using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ReleaseTools.Benchmarks.Harness;

namespace ReleaseTools.Benchmarks.Peers;

/// <summary>
/// An OpenSSH server of the benchmark's own on 127.0.0.1 and a free port: a temporary host key, one authorized client
/// key, no PAM, no passwords, and room for as many simultaneous connections as the peers open (sshd's default
/// MaxStartups would drop connections beyond 10). One server serves one tool's run: it runs under measure_tree.py, so
/// when it is stopped the CPU of sshd and of every session process it forked (including the pwsh remoting subsystem,
/// which sshd does not always wait for) is known.
/// </summary>
public sealed class PrivateSshServer : IAsyncDisposable
{
    public const string SshdPath = "/usr/sbin/sshd";
    private readonly Process _process;
    private readonly Task<string> _measurement;
    private readonly string _pidFile;

    private PrivateSshServer(Process process, Task<string> measurement, string pidFile, int port, string clientKeyPath, string directory)
    {
        _process = process;
        _measurement = measurement;
        _pidFile = pidFile;
        Port = port;
        ClientKeyPath = clientKeyPath;
        Directory = directory;
    }

    public int Port { get; }
    public string ClientKeyPath { get; }
    public string Directory { get; }
    public string User => Environment.UserName;

    /// <summary>ssh options every client uses: the private key, no host-key prompts or records, no agent, batch mode.</summary>
    public IReadOnlyList<string> ClientOptions =>
    [
        "-i", ClientKeyPath, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
    ];

    /// <summary>Null when sshd is not installed (the caller reports the peer missing).</summary>
    public static string? MissingReason() =>
        File.Exists(SshdPath) ? null : $"{SshdPath} is not installed (apt-get install openssh-server)";

    public static async Task<PrivateSshServer> StartAsync(string directory, string? extraConfig, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(directory);
        // sshd refuses to start without its privilege-separation directory, which only the packaged service creates.
        System.IO.Directory.CreateDirectory("/run/sshd");
        var hostKey = Path.Combine(directory, "host_ed25519");
        var clientKey = Path.Combine(directory, "client_ed25519");
        foreach (var key in new[] { hostKey, clientKey }.Where(k => !File.Exists(k)))
        {
            await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key], cancellationToken);
        }

        var authorizedKeys = Path.Combine(directory, "authorized_keys");
        File.Copy(clientKey + ".pub", authorizedKeys, overwrite: true);

        var port = FreePort();
        var config = Path.Combine(directory, "sshd_config");
        File.WriteAllText(config, string.Join('\n',
        [
            $"Port {port}", "ListenAddress 127.0.0.1", $"HostKey {hostKey}", $"AuthorizedKeysFile {authorizedKeys}",
            $"PidFile {Path.Combine(directory, "sshd.pid")}", "StrictModes no", "UsePAM no", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "PubkeyAuthentication yes",
            "MaxStartups 256", "MaxSessions 64", "Subsystem sftp internal-sftp", "AcceptEnv LANG LC_*",
            extraConfig ?? "",
        ]) + "\n");

        var pidFile = Path.Combine(directory, "sshd.pid");
        File.Delete(pidFile);
        var start = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { ToolTreeRun.Wrapper, SshdPath, "-D", "-e", "-f", config })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start sshd.");
        var measurement = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var log = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"sshd exited ({process.ExitCode}): {await log}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken);
            }
        }

        return new PrivateSshServer(process, measurement, pidFile, port, clientKey, directory);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed ({process.ExitCode}): {await error}");
        }
    }

    /// <summary>Stops sshd and returns the CPU seconds of its whole process tree over its life.</summary>
    public async Task<double> StopAsync(CancellationToken cancellationToken)
    {
        var pid = int.Parse(File.ReadAllText(_pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        // SIGTERM to the listener; measure_tree.py then stops and reaps whatever session process is left.
        using (var kill = Process.Start("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(cancellationToken);
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(limit.Token);
        var lastLine = (await _measurement).Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        return System.Text.Json.JsonSerializer.Deserialize<TreeMeasurement>(lastLine, new System.Text.Json.JsonSerializerOptions { PropertyNameCaseInsensitive = true })!.CpuSeconds;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
