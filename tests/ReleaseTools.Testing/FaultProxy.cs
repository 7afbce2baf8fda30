using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ReleaseTools.Testing;

/// <summary>What the proxy does to one connection.</summary>
public enum ProxyFault
{
    /// <summary>Forwards both ways untouched.</summary>
    None,
    /// <summary>Resets the connection (RST) once the client has sent <see cref="FaultProxy.CutAfterBytes"/> bytes: a push cut mid-body.</summary>
    ResetMidBody,
    /// <summary>
    /// Once the client has sent <see cref="FaultProxy.CutAfterBytes"/> bytes, forwards nothing more either way and holds the
    /// connection open without reading: an agent or network that hangs mid-push.
    /// </summary>
    StallMidBody,
    /// <summary>Answers 503 itself, without reaching the agent.</summary>
    ServiceUnavailable,
    /// <summary>Forwards only the first <see cref="FaultProxy.TruncateAfterBytes"/> bytes of the agent's answer, then closes.</summary>
    TruncateResponse,
    /// <summary>Holds the agent's answer for <see cref="FaultProxy.HeaderDelay"/> before forwarding it.</summary>
    DelayHeaders,
}

/// <summary>
/// A loopback TCP proxy in front of one real agent that injects one fault into each of the first
/// <see cref="FaultyConnections"/> connections and forwards the rest untouched, so a test sees a real client meet
/// a real network failure and then a healthy agent.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _upstreamPort;
    private readonly CancellationTokenSource _stop = new();
    private int _connections;
    private int _faulted;

    public FaultProxy(int upstreamPort, ProxyFault fault, int faultyConnections)
    {
        _upstreamPort = upstreamPort;
        Fault = fault;
        FaultyConnections = faultyConnections;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    public int Port { get; }
    public ProxyFault Fault { get; }
    public int FaultyConnections { get; }
    public long CutAfterBytes { get; init; } = 16 * 1024;
    public int TruncateAfterBytes { get; init; } = 20;
    public TimeSpan HeaderDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs once, when the client's first <c>POST /activate</c> passes through, before the agent sees it: something that
    /// happens to the client's machine mid-run (its disk fills), at a point of the run no timer could pick.
    /// </summary>
    public Action? OnFirstActivate { get; init; }

    private int _activateSeen;
    private static readonly byte[] ActivateRequest = Encoding.ASCII.GetBytes("POST /activate");

    /// <summary>Connections accepted so far, and how many of them got the fault.</summary>
    public int Connections => Volatile.Read(ref _connections);
    public int Faulted => Volatile.Read(ref _faulted);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            // A reset or stall fires when a connection's upload passes the limit, so it is counted then; the others at once.
            var fault = CutsMidBody(Fault) || TryFire() ? Fault : ProxyFault.None;
            _ = ServeAsync(client, fault);
        }
    }

    private static bool CutsMidBody(ProxyFault fault) => fault is ProxyFault.ResetMidBody or ProxyFault.StallMidBody;

    /// <summary>Takes one of the faults still to inject; false once all have fired.</summary>
    private bool TryFire()
    {
        while (true)
        {
            var fired = Volatile.Read(ref _faulted);
            if (fired >= FaultyConnections)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _faulted, fired + 1, fired) == fired)
            {
                return true;
            }
        }
    }

    private async Task ServeAsync(TcpClient client, ProxyFault fault)
    {
        using (client)
        {
            try
            {
                var downstream = client.GetStream();
                if (fault == ProxyFault.ServiceUnavailable)
                {
                    await ReadRequestAsync(downstream);
                    var body = Encoding.ASCII.GetBytes("{\"error\":\"unavailable\",\"message\":\"injected by the test proxy\"}");
                    var head = $"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
                    await downstream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
                    await downstream.WriteAsync(body, _stop.Token);
                    return;
                }

                using var upstreamClient = new TcpClient();
                await upstreamClient.ConnectAsync(IPAddress.Loopback, _upstreamPort, _stop.Token);
                var upstream = upstreamClient.GetStream();
                using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var toAgent = PumpAsync(downstream, upstream, CutsMidBody(fault) ? CutAfterBytes : long.MaxValue, TimeSpan.Zero, done.Token,
                    CutsMidBody(fault) ? TryFire : null, OnFirstActivate is null ? null : WatchForActivate);
                var toClient = PumpAsync(upstream, downstream, fault == ProxyFault.TruncateResponse ? TruncateAfterBytes : long.MaxValue,
                    fault == ProxyFault.DelayHeaders ? HeaderDelay : TimeSpan.Zero, done.Token);
                var first = await Task.WhenAny(toAgent, toClient);
                var limited = await first;
                if (limited && fault == ProxyFault.ResetMidBody)
                {
                    // An abortive close: the client sees a connection reset, not a clean end.
                    client.Client.LingerState = new LingerOption(true, 0);
                    upstreamClient.Client.LingerState = new LingerOption(true, 0);
                }

                done.Cancel();
                if (limited && fault == ProxyFault.StallMidBody)
                {
                    // Nothing more moves, and the client's connection stays open until it gives up or the proxy stops.
                    upstreamClient.Close();
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }
            }
            catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // A side that went away ends the connection; the test asserts on what the client saw.
            }
        }
    }

    /// <summary>Fires <see cref="OnFirstActivate"/> once, when a chunk from the client holds an activation's request line.</summary>
    private void WatchForActivate(byte[] buffer, int count)
    {
        if (Volatile.Read(ref _activateSeen) == 0 && buffer.AsSpan(0, count).IndexOf(ActivateRequest) >= 0 && Interlocked.Exchange(ref _activateSeen, 1) == 0)
        {
            OnFirstActivate!();
        }
    }

    /// <summary>Copies until the source ends or <paramref name="limit"/> bytes went through; true when the limit cut it.</summary>
    /// <param name="mayCut">Asked when the limit is reached: false lets the connection go on untouched.</param>
    private static async Task<bool> PumpAsync(NetworkStream from, NetworkStream to, long limit, TimeSpan firstByteDelay, CancellationToken cancellationToken,
        Func<bool>? mayCut = null, Action<byte[], int>? watch = null)
    {
        var buffer = new byte[16 * 1024];
        long sent = 0;
        var first = true;
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    return false;
                }

                if (first && firstByteDelay > TimeSpan.Zero)
                {
                    await Task.Delay(firstByteDelay, cancellationToken);
                }

                first = false;
                watch?.Invoke(buffer, read);
                var allowed = (int)Math.Min(read, limit - sent);
                await to.WriteAsync(buffer.AsMemory(0, allowed), cancellationToken);
                sent += allowed;
                if (sent >= limit)
                {
                    if (mayCut is null || mayCut())
                    {
                        return true;
                    }

                    limit = long.MaxValue;
                    if (allowed < read)
                    {
                        await to.WriteAsync(buffer.AsMemory(allowed, read - allowed), cancellationToken);
                        sent += read - allowed;
                    }
                }
            }
        }
        catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Reads one request's head and its Content-Length body, so closing afterwards is a clean close, not a reset.</summary>
    private static async Task ReadRequestAsync(NetworkStream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (await stream.ReadAsync(one) == 1)
        {
            head.Add(one[0]);
            var n = head.Count;
            if (n >= 4 && head[n - 4] == 13 && head[n - 3] == 10 && head[n - 2] == 13 && head[n - 1] == 10)
            {
                break;
            }
        }

        var length = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n")
            .Where(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            .Select(line => long.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture))
            .FirstOrDefault();
        var buffer = new byte[16 * 1024];
        while (length > 0)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length)));
            if (read == 0)
            {
                return;
            }

            length -= read;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
