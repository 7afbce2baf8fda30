using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Floyd;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

public class RetryExecutorTests
{
    [Fact]
    public void Delays_grow_exponentially_from_the_initial_delay()
    {
        var retry = new RetryExecutor(new RetryPolicy());

        Assert.Equal(TimeSpan.FromSeconds(1), retry.DelayBefore(2));
        Assert.Equal(TimeSpan.FromSeconds(2), retry.DelayBefore(3));
        Assert.Equal(TimeSpan.FromSeconds(4), retry.DelayBefore(4));
    }

    [Fact]
    public async Task A_non_transient_failure_surfaces_on_the_first_try()
    {
        var retry = new RetryExecutor(new RetryPolicy { InitialDelay = TimeSpan.FromMilliseconds(1) });
        var tries = 0;

        await Assert.ThrowsAsync<FloydException>(() => retry.RunAsync<int>(_ =>
        {
            tries++;
            throw new FloydException("i", FloydStep.Config, "400 bad request", 400);
        }, _ => { }, (_, _) => { }, CancellationToken.None));

        Assert.Equal(1, tries);
    }

    [Fact]
    public async Task Cancellation_during_a_backoff_wait_stops_retrying()
    {
        using var cancel = new CancellationTokenSource();
        var retry = new RetryExecutor(new RetryPolicy { InitialDelay = TimeSpan.FromSeconds(30) });
        var tries = 0;

        var run = retry.RunAsync<int>(_ =>
        {
            tries++;
            throw new FloydException("i", FloydStep.Ping, "503", 503, isTransient: true);
        }, _ => { }, (_, _) => cancel.CancelAfter(20), cancel.Token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(1, tries);
    }
}
