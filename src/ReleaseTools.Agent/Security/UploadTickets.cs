using System.Security.Cryptography;

namespace ReleaseTools.Agent.Security;

/// <summary>What a signed ping reserved: one push of these exact bytes for this release.</summary>
public sealed record UploadTicket(string Id, string Path, string Service, string Version, string FVersion, string Md5Hex, long Bytes, DateTimeOffset ExpiresAt);

/// <summary>
/// Single-use upload tickets (docs/floyd-protocol.md, section 2.5). A push's signature covers its whole body, so it can
/// only be verified after the body is read; a ticket, issued by a signed (and so already verified) ping and named in
/// the push's signed URI, lets the agent refuse a push nobody authorized before it reads a byte of it, and bounds an
/// authorized one to the size and MD5 the ping declared. Tickets live in memory: a restart forgets them, which only
/// makes a client ask for a new one.
/// </summary>
public sealed class UploadTickets
{
    private readonly object _gate = new();
    private readonly Dictionary<string, UploadTicket> _open = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly int _capacity;

    public UploadTickets(int capacity = 4096) => _capacity = Math.Max(16, capacity);

    public int OpenCount
    {
        get
        {
            lock (_gate)
            {
                return _open.Count;
            }
        }
    }

    public UploadTicket Issue(string path, string service, string version, string fversion, string md5Hex, long bytes, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        var ticket = new UploadTicket(Base64Url(RandomNumberGenerator.GetBytes(18)), path, service, version, fversion, md5Hex, bytes, expiresAt);
        lock (_gate)
        {
            Purge(now);
            // Only signed pings issue tickets, so whoever fills the book holds a key; the oldest ticket goes first (a push
            // that loses its ticket asks for a new one), and memory stays bounded.
            while (_open.Count >= _capacity && _order.TryDequeue(out var oldest))
            {
                _open.Remove(oldest);
            }

            _open[ticket.Id] = ticket;
            _order.Enqueue(ticket.Id);
        }

        return ticket;
    }

    /// <summary>Takes the ticket out of the book: whatever happens to the push that named it, it is never accepted again.</summary>
    public UploadTicket? Redeem(string id, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (!_open.Remove(id, out var ticket))
            {
                return null;
            }

            return ticket.ExpiresAt > now ? ticket : null;
        }
    }

    private void Purge(DateTimeOffset now)
    {
        while (_order.TryPeek(out var id) && (!_open.TryGetValue(id, out var ticket) || ticket.ExpiresAt <= now))
        {
            _order.Dequeue();
            _open.Remove(id);
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
