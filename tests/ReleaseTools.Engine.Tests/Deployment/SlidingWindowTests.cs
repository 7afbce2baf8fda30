using System.Collections.Concurrent;
using ReleaseTools.Engine.Deployment.Execution;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

public class SlidingWindowTests
{
    [Fact]
    public async Task At_most_the_limit_runs_at_once_and_the_limit_is_reached()
    {
        var running = 0;
        var peak = 0;
        await SlidingWindow.RunAsync(Enumerable.Range(0, 12).ToList(), 3, async _ =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref peak, now);
            await Task.Delay(20);
            Interlocked.Decrement(ref running);
        }, CancellationToken.None);

        Assert.Equal(3, peak);
    }

    [Fact]
    public async Task A_slow_item_does_not_hold_back_the_start_of_the_next_ones()
    {
        var release = new TaskCompletionSource();
        var finished = new ConcurrentQueue<int>();
        var run = SlidingWindow.RunAsync(Enumerable.Range(0, 6).ToList(), 2, async i =>
        {
            if (i == 0)
            {
                await release.Task;
            }
            else
            {
                await Task.Delay(5);
            }

            finished.Enqueue(i);
        }, CancellationToken.None);

        // With fixed chunks of two, items 2..5 would wait for item 0; a sliding window runs them all in the other slot.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (finished.Count < 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, finished.OrderBy(i => i));
        release.SetResult();
        await run;
        Assert.Equal(6, finished.Count);
    }

    [Fact]
    public async Task Cancellation_stops_new_starts_and_returns_the_items_never_started()
    {
        using var cancel = new CancellationTokenSource();
        var started = new ConcurrentBag<int>();
        var notStarted = await SlidingWindow.RunAsync(Enumerable.Range(0, 10).ToList(), 2, async i =>
        {
            started.Add(i);
            if (i == 1)
            {
                cancel.Cancel();
            }

            await Task.Delay(10);
        }, cancel.Token);

        Assert.NotEmpty(notStarted);
        Assert.Equal(10, started.Count + notStarted.Count);
        Assert.Empty(started.Intersect(notStarted));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
