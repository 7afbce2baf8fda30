using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace ReleaseTools.Agent.Security;

public enum ReplayCheck
{
    Accepted,
    Replayed,
    Full,
}

/// <summary>
/// Signatures seen inside the clock-skew window. An entry is needed only until its timestamp leaves the window
/// (after that the timestamp check rejects the request anyway), so entries expire then and memory stays bounded.
/// Entries are kept by a SHA-256 digest of the signature; with a <see cref="ReplayJournal"/> they also survive a restart.
/// </summary>
public sealed class ReplayCache
{
    private readonly ConcurrentDictionary<string, long> _seen = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private long _nextPurgeTicks;

    private readonly ReplayJournal? _journal;

    public ReplayCache(int capacity, ReplayJournal? journal = null, DateTimeOffset? now = null)
    {
        _capacity = Math.Max(16, capacity);
        _journal = journal;
        if (journal != null)
        {
            foreach (var (digest, expires) in journal.ReadLive(now ?? DateTimeOffset.UtcNow))
            {
                _seen[digest] = expires;
            }

            journal.CompactIfLarge(_seen.Count, () => _seen.ToArray(), force: true);
        }
    }

    public int Count => _seen.Count;

    public bool HasSeen(string signature, DateTimeOffset now) =>
        _seen.TryGetValue(Digest(signature), out var expires) && expires > now.UtcTicks;

    public ReplayCheck TryRegister(string signature, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        var key = Digest(signature);
        var check = TryRegisterKey(key, expiresAt, now);
        if (check == ReplayCheck.Accepted)
        {
            _journal?.Append(key, expiresAt.UtcTicks);
        }

        return check;
    }

    private static string Digest(string signature) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(signature)));

    private ReplayCheck TryRegisterKey(string signature, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        if (_seen.Count >= _capacity || now.UtcTicks >= Interlocked.Read(ref _nextPurgeTicks))
        {
            Purge(now);
        }

        if (_seen.Count >= _capacity)
        {
            // Evicting a live entry would reopen a replay window; refusing is the safe side.
            return ReplayCheck.Full;
        }

        var expires = expiresAt.UtcTicks;
        while (true)
        {
            if (_seen.TryAdd(signature, expires))
            {
                return ReplayCheck.Accepted;
            }

            if (_seen.TryGetValue(signature, out var existing))
            {
                if (existing > now.UtcTicks)
                {
                    return ReplayCheck.Replayed;
                }

                // An expired leftover of the same signature: replace it atomically, or retry if someone else did.
                if (_seen.TryUpdate(signature, expires, existing))
                {
                    return ReplayCheck.Accepted;
                }
            }
        }
    }

    private void Purge(DateTimeOffset now)
    {
        Interlocked.Exchange(ref _nextPurgeTicks, now.AddSeconds(10).UtcTicks);
        foreach (var entry in _seen)
        {
            if (entry.Value <= now.UtcTicks)
            {
                _seen.TryRemove(entry);
            }
        }

        _journal?.CompactIfLarge(_seen.Count, () => _seen.ToArray());
    }
}
