using System.Diagnostics;

namespace ReleaseTools.Testing;

/// <summary>
/// A tiny real service to release in tests: a python3 http.server script that runs from its release directory,
/// reads its VERSION file and its rendered config (app.conf: port, greeting, health) and answers
/// <c>GET /</c> with "version=&lt;v&gt; greeting=&lt;g&gt;" and <c>GET /health</c> with the configured status.
/// Packages are real .zip and .tar.gz files; the activate hook (<see cref="RestartScript"/>) stops the running copy
/// and starts the new one in the background, as a real init script would.
/// </summary>
public static class TinyService
{
    public const string ConfigTemplate = "port={{Port}}\ngreeting={{Greeting}}\nhealth={{Health}}\n";

    private const string Script = """
        import http.server, os, sys

        here = os.path.dirname(os.path.abspath(__file__))
        version = open(os.path.join(here, "VERSION")).read().strip()
        config = dict(line.split("=", 1) for line in open(os.path.join(here, "app.conf")).read().splitlines() if "=" in line)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/health":
                    status = int(config.get("health", "200"))
                    body = b"ok" if status == 200 else b"unhealthy"
                else:
                    status = 200
                    body = ("version=%s greeting=%s" % (version, config.get("greeting", ""))).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        http.server.HTTPServer(("127.0.0.1", int(config["port"])), Handler).serve_forever()
        """;

    /// <summary>
    /// The activate hook: stop the copy recorded in service.pid (and wait until it is gone, so the port is free), then
    /// start this release's copy in the background with its output in a file (never on the hook's pipes).
    /// </summary>
    public const string RestartScript = """
        pidfile="$FLOYD_SERVICE_DIR/service.pid"
        if [ -f "$pidfile" ]; then
          old=$(cat "$pidfile")
          kill "$old" 2>/dev/null
          i=0; while kill -0 "$old" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
        fi
        cd "$FLOYD_RELEASE_DIR"
        nohup python3 service.py > "$FLOYD_SERVICE_DIR/service.log" 2>&1 < /dev/null &
        echo $! > "$pidfile"
        echo "started $FLOYD_VERSION as $!"
        """;

    /// <summary>Fails with a clear message when python3 is not on PATH: the tiny service needs it.</summary>
    public static void RequirePython()
    {
        try
        {
            using var probe = Process.Start(new ProcessStartInfo("python3", "--version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            if (probe.WaitForExit(10_000) && probe.ExitCode == 0)
            {
                return;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }

        throw new InvalidOperationException("These tests release a tiny python3 http.server service: install python3 (3.8 or later) and put it on PATH.");
    }

    /// <summary>A .zip (or .tar.gz when the path says so) of the service at <paramref name="version"/>, plus any extra entries.</summary>
    public static string Package(string path, string version, params ArchiveEntry[] extra)
    {
        var entries = new[] { ArchiveEntry.Text("service.py", Script), ArchiveEntry.Text("VERSION", version + "\n") }.Concat(extra).ToArray();
        return path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) ? TestArchives.Zip(path, entries) : TestArchives.TarGz(path, entries);
    }

    /// <summary>What the service on <paramref name="port"/> answers at /, or the failure; bounded to a few seconds.</summary>
    public static async Task<string> AskAsync(int port)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            return await http.GetStringAsync($"http://127.0.0.1:{port}/");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return $"(no answer: {ex.Message})";
        }
    }

    /// <summary>Stops the copy a service directory's pid file names, so no test leaves a process behind.</summary>
    public static void Stop(string serviceDirectory)
    {
        var pidFile = Path.Combine(serviceDirectory, "service.pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
        {
            return;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
            process.WaitForExit(5_000);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }
}
