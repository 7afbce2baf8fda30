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
}
