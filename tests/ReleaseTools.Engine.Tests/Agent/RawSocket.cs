using System.Net.Sockets;
using System.Text;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// HTTP/1.1 spoken by hand over a loopback socket, for what no HTTP client sends: broken framing, oversized heads,
/// bodies the agent never asked for. Every wait is bounded.
/// </summary>
internal static class RawSocket
{
    /// <summary>Sends <paramref name="request"/> as it is and returns everything the agent answers until it closes (or 10 s pass).</summary>
    public static async Task<string> ExchangeAsync(Uri baseUri, byte[] request)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(baseUri.Host, baseUri.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(request);
        return await ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(10));
    }

    public static async Task<string> ReadUntilClosedAsync(Stream stream, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        var answer = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                answer.Write(buffer, 0, read);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // Closed with a reset, or kept open: what arrived is the answer.
        }

        return Encoding.UTF8.GetString(answer.ToArray());
    }

    /// <summary>The status code of the first response in <paramref name="answer"/>.</summary>
    public static int Status(string answer) =>
        answer.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && int.TryParse(answer.AsSpan(9, 3), out var status) ? status : -1;

    /// <summary>The value of header <paramref name="name"/> of the first response in <paramref name="answer"/>; null when absent.</summary>
    public static string? Header(string answer, string name)
    {
        var end = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = end < 0 ? answer : answer[..end];
        return head.Split("\r\n").Skip(1)
            .Where(line => line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            .Select(line => line[(name.Length + 1)..].Trim())
            .FirstOrDefault();
    }

    /// <summary>The body of a response, with chunked transfer coding removed.</summary>
    public static string Body(string answer)
    {
        var split = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (split < 0) return "";
        var head = answer[..split];
        var body = Encoding.UTF8.GetBytes(answer[(split + 4)..]);
        if (!head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)) return Encoding.UTF8.GetString(body);
        // Chunk sizes count bytes, not characters.
        var result = new MemoryStream();
        var at = 0;
        while (true)
        {
            var line = Array.IndexOf(body, (byte)'\n', at);
            if (line < 0) break;
            var size = Convert.ToInt32(Encoding.ASCII.GetString(body, at, line - at).Trim(), 16);
            if (size == 0) break;
            result.Write(body, line + 1, size);
            at = line + 1 + size + 2;
        }

        return Encoding.UTF8.GetString(result.ToArray());
    }
}
