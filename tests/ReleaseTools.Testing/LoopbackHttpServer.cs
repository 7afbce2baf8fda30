using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ReleaseTools.Testing;

/// <summary>
/// A deliberately small HTTP/1.1 server on 127.0.0.1 (ephemeral port) that answers each path with exactly the status,
/// content type and body it was given, as a misconfigured artifact server or a sign-in page would. One request per
/// connection (Connection: close), so nothing in it can hide what a client really received.
/// </summary>
public sealed class LoopbackHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<string, (int Status, string? ContentType, byte[] Body)> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private int _connections;

    public LoopbackHttpServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Serves <paramref name="body"/> at <paramref name="path"/>; returns its URL.</summary>
    public string Serve(string path, int status, string? contentType, byte[] body)
    {
        path = "/" + path.TrimStart('/');
        _routes[path] = (status, contentType, body);
        return $"http://127.0.0.1:{Port}{path}";
    }

    /// <summary>How many requests (any method) reached <paramref name="path"/>.</summary>
    public int Requests(string path) => _requests.TryGetValue("/" + path.TrimStart('/'), out var n) ? n : 0;

    /// <summary>How many requests reached the server at all.</summary>
    public int TotalRequests => _requests.Values.Sum();

    /// <summary>How many TCP connections were accepted, whether or not a request followed on them.</summary>
    public int Connections => Volatile.Read(ref _connections);

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

            Interlocked.Increment(ref _connections);
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
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                var head = await ReadHeadAsync(stream, timeout.Token);
                var requestLine = head.Split("\r\n")[0].Split(' ');
                var method = requestLine[0];
                var path = requestLine.Length > 1 ? requestLine[1].Split('?')[0] : "/";
                _requests.AddOrUpdate(path, 1, (_, n) => n + 1);
                var (status, contentType, body) = _routes.TryGetValue(path, out var route) ? route : (404, "text/plain", Encoding.ASCII.GetBytes("not found"));
                var headers = new StringBuilder($"HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {body.Length}\r\n");
                if (contentType != null)
                {
                    headers.Append($"Content-Type: {contentType}\r\n");
                }

                await stream.WriteAsync(Encoding.ASCII.GetBytes(headers.Append("\r\n").ToString()), timeout.Token);
                if (method != "HEAD")
                {
                    await stream.WriteAsync(body, timeout.Token);
                }
            }
            catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // A client that went away mid-answer is the client's business; the test asserts on what it saw.
            }
        }
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (buffer.Count < 64 * 1024)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                break;
            }

            buffer.Add(one[0]);
            var n = buffer.Count;
            if (n >= 4 && buffer[n - 4] == '\r' && buffer[n - 3] == '\n' && buffer[n - 2] == '\r' && buffer[n - 1] == '\n')
            {
                break;
            }
        }

        return Encoding.ASCII.GetString(buffer.ToArray());
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
