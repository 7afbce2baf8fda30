using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ReleaseTools.Testing;

/// <summary>One request a <see cref="WebhookReceiver"/> received, as it came over the wire.</summary>
public sealed record ReceivedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset At)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>How a <see cref="WebhookReceiver"/> answers one request: a status and body, after an optional stall.</summary>
public sealed record WebhookAnswer(int Status, string Body = "", TimeSpan Stall = default, string? RetryAfter = null)
{
    public static WebhookAnswer Ok(string body = "ok") => new(200, body);
}

/// <summary>
/// A real HTTP/1.1 webhook receiver on 127.0.0.1 (ephemeral port): it reads each POST with its headers and body and
/// answers from a script per path (the last answer repeats), so a test sees exactly what a chat service or a receiver
/// would get, and can make it fail (500 then 200), refuse (404), or stall past a client's timeout. One request per
/// connection (Connection: close).
/// </summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<string, WebhookAnswer[]> _scripts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ReceivedRequest> _received = new();
    private readonly CancellationTokenSource _stop = new();

    public WebhookReceiver()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>The URL of <paramref name="path"/> (which may carry a query, as tokened webhook URLs do).</summary>
    public string Url(string path) => $"http://127.0.0.1:{Port}/{path.TrimStart('/')}";

    /// <summary>Answers requests to <paramref name="path"/> with these answers in turn, repeating the last; unscripted paths answer 200 "ok".</summary>
    public void Script(string path, params WebhookAnswer[] answers) => _scripts["/" + path.TrimStart('/').Split('?')[0]] = answers;

    /// <summary>Shorthand: answer with these statuses in turn (body "ok" for 2xx, "boom" otherwise).</summary>
    public void Script(string path, params int[] statuses) =>
        Script(path, statuses.Select(s => new WebhookAnswer(s, s >= 200 && s < 300 ? "ok" : "boom")).ToArray());

    /// <summary>Every request so far to <paramref name="path"/> (without its query), in arrival order.</summary>
    public IReadOnlyList<ReceivedRequest> Received(string path) =>
        _received.Where(r => r.Path == "/" + path.TrimStart('/').Split('?')[0]).OrderBy(r => r.At).ToList();

    public IReadOnlyList<ReceivedRequest> All => _received.OrderBy(r => r.At).ToList();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                return;
            }

            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                var (method, target, headers, body) = await ReadRequestAsync(stream, timeout.Token);
                var path = target.Split('?')[0];
                var index = _counts.AddOrUpdate(path, 0, (_, n) => n + 1);
                _received.Enqueue(new ReceivedRequest(method, path, headers, body, DateTimeOffset.UtcNow));
                var answer = _scripts.TryGetValue(path, out var script) && script.Length > 0 ? script[Math.Min(index, script.Length - 1)] : WebhookAnswer.Ok();
                if (answer.Stall > TimeSpan.Zero)
                {
                    await Task.Delay(answer.Stall, timeout.Token);
                }

                var bytes = Encoding.UTF8.GetBytes(answer.Body);
                var head = new StringBuilder($"HTTP/1.1 {answer.Status} {Reason(answer.Status)}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {bytes.Length}\r\n");
                if (answer.RetryAfter != null)
                {
                    head.Append($"Retry-After: {answer.RetryAfter}\r\n");
                }

                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()), timeout.Token);
                await stream.WriteAsync(bytes, timeout.Token);
            }
            catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException or FormatException)
            {
                // A client that gave up (its timeout) is what some tests are about; they assert on what the client saw.
            }
        }
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        202 => "Accepted",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Answer",
    };

    private static async Task<(string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body)> ReadRequestAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 64 * 1024)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                throw new IOException("The client closed the connection before the end of its request head.");
            }

            head.Add(one[0]);
            var n = head.Count;
            if (n >= 4 && head[n - 4] == '\r' && head[n - 3] == '\n' && head[n - 2] == '\r' && head[n - 1] == '\n')
            {
                break;
            }
        }

        var lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var length = headers.TryGetValue("Content-Length", out var text) ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : 0;
        var body = new byte[length];
        var read = 0;
        while (read < length)
        {
            var got = await stream.ReadAsync(body.AsMemory(read), cancellationToken);
            if (got == 0)
            {
                throw new IOException("The client closed the connection before the end of its body.");
            }

            read += got;
        }

        return (requestLine[0], requestLine.Length > 1 ? requestLine[1] : "/", headers, body);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
