using System.Net;
using System.Security.Cryptography.X509Certificates;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Hosting;

/// <summary>
/// Once the agent listens, it asks its own <c>GET /health</c> through the first address it bound, as a client on the
/// host would. Two reasons: an operator learns at start, in the log, when the agent cannot answer on its own address
/// (a host firewall rule, a certificate the TLS stack refuses), rather than at the first deployment; and the first
/// request a fresh process serves compiles the server's request path (accepting a connection, parsing HTTP, building
/// the routing table, writing JSON). Paid at start, that compilation no longer lands on the first deployment: measured
/// in the agent-warmup scenario with 4 MiB pushes, a fresh agent's first push cost about 0.06 CPU-s more than a later
/// one with this check and about 0.10 without it. The check never stops the agent: a failure is a warning.
/// It is counted in the agent's metrics like any other health request.
/// </summary>
internal static class StartupSelfCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(IReadOnlyList<string> addresses, X509Certificate2? certificate, ILogger logger, CancellationToken cancellationToken)
    {
        var target = addresses.Select(ToReachable).FirstOrDefault(uri => uri != null);
        if (target == null)
        {
            return;
        }

        using var handler = new SocketsHttpHandler { UseProxy = false, ConnectTimeout = Timeout };
        if (certificate != null)
        {
            // The agent asks itself: the certificate it must see is the one it serves, whatever name it was issued for.
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented != null && string.Equals(presented.GetCertHashString(), certificate.GetCertHashString(), StringComparison.OrdinalIgnoreCase);
        }

        using var client = new HttpClient(handler) { Timeout = Timeout };
        try
        {
            using var response = await client.GetAsync(new Uri(target, FloydProtocol.HealthPath), cancellationToken);
            await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                logger.LogWarning("The agent's own health check at {Address} answered {Status}.", target, (int)response.StatusCode);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("The agent could not reach its own health endpoint at {Address}: {Reason} Clients on this host may not reach it either.",
                target, ex.Message);
        }
    }

    /// <summary>The address as a client on this host reaches it: a wildcard bind is asked through loopback.</summary>
    internal static Uri? ToReachable(string address)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return null;
        }

        var reachable = uri.Host.Trim('[', ']') switch
        {
            "0.0.0.0" => "127.0.0.1",
            "::" => "[::1]",
            _ => uri.Host,
        };
        return new UriBuilder(uri) { Host = reachable }.Uri;
    }
}
