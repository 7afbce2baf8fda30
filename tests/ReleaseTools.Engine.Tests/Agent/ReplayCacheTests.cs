using ReleaseTools.Agent.Security;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

public sealed class ReplayCacheTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_signature_is_a_replay_until_its_window_ends()
    {
        var cache = new ReplayCache(100);
        var expires = Start.AddMinutes(5);

        Assert.Equal(ReplayCheck.Accepted, cache.TryRegister("sig", expires, Start));
        Assert.True(cache.HasSeen("sig", Start.AddMinutes(4)));
        Assert.Equal(ReplayCheck.Replayed, cache.TryRegister("sig", expires, Start.AddMinutes(4)));
        Assert.False(cache.HasSeen("sig", Start.AddMinutes(6)));
    }

    [Fact]
    public void Memory_stays_bounded_expired_entries_are_dropped_and_a_full_cache_refuses_rather_than_forgets()
    {
        var cache = new ReplayCache(16);
        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(ReplayCheck.Accepted, cache.TryRegister($"sig{i}", Start.AddMinutes(5), Start));
        }

        Assert.Equal(ReplayCheck.Full, cache.TryRegister("one-more", Start.AddMinutes(5), Start.AddMinutes(1)));
        Assert.Equal(16, cache.Count);

        Assert.Equal(ReplayCheck.Accepted, cache.TryRegister("later", Start.AddMinutes(11), Start.AddMinutes(6)));
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void A_journal_brings_back_live_entries_drops_expired_ones_and_ignores_a_torn_last_line()
    {
        using var temp = new ReleaseTools.Testing.TempDirectory("replay-journal");
        using (var journal = new ReplayJournal(temp.Path))
        {
            var cache = new ReplayCache(100, journal, Start);
            Assert.Equal(ReplayCheck.Accepted, cache.TryRegister("live", Start.AddMinutes(5), Start));
            Assert.Equal(ReplayCheck.Accepted, cache.TryRegister("short", Start.AddMinutes(1), Start));
        }

        File.AppendAllText(Path.Combine(temp.Path, ReplayJournal.FileName), "6391");
        using (var journal = new ReplayJournal(temp.Path))
        {
            var cache = new ReplayCache(100, journal, Start.AddMinutes(2));

            Assert.True(cache.HasSeen("live", Start.AddMinutes(2)));
            Assert.False(cache.HasSeen("short", Start.AddMinutes(2)));
            Assert.Equal(1, cache.Count);
            Assert.Single(File.ReadAllLines(Path.Combine(temp.Path, ReplayJournal.FileName)));
        }
    }
}
