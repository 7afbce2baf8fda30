using System.Collections.Concurrent;
using System.Reflection;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Tests.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>Group commit of a run's target writes, against a real SQLite store.</summary>
public sealed class TargetWriteBatcherTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly StoreScope _scope = new();

    public void Dispose() => _scope.Dispose();

    [Fact]
    public async Task Writes_asked_for_while_a_commit_runs_are_committed_together_and_each_caller_waits_for_its_own()
    {
        var ids = Enumerable.Range(1, 10).Select(i => $"orders-{i}").ToList();
        var deployment = await CreateRunAsync(ids);
        var store = CountingStore.Around(_scope.Store);
        var batcher = new TargetWriteBatcher(store.AsStore);
        var gate = store.HoldFirstCommit();

        var first = batcher.WriteAsync(Running(deployment, ids[0]));
        await store.FirstCommitStarted.WaitAsync(Bound);
        var rest = ids.Skip(1).Select(id => batcher.WriteAsync(Running(deployment, id))).ToList();
        Assert.False(first.IsCompleted);
        Assert.All(rest, t => Assert.False(t.IsCompleted));
        gate.SetResult();
        await Task.WhenAll(rest.Append(first)).WaitAsync(Bound);

        Assert.Equal(new[] { 1, 9 }, store.CommitSizes);
        Assert.All(await _scope.Store.GetTargetsAsync(deployment, CancellationToken.None), t => Assert.Equal(TargetStatus.Running, t.Status));
    }

    [Fact]
    public async Task A_bad_write_fails_only_its_own_caller_and_the_others_of_its_commit_are_written()
    {
        var ids = new[] { "orders-1", "orders-2", "orders-3", "orders-4" };
        var deployment = await CreateRunAsync(ids);
        var store = CountingStore.Around(_scope.Store);
        var batcher = new TargetWriteBatcher(store.AsStore);
        var gate = store.HoldFirstCommit();

        var first = batcher.WriteAsync(Running(deployment, "orders-1"));
        await store.FirstCommitStarted.WaitAsync(Bound);
        var good = new[] { batcher.WriteAsync(Running(deployment, "orders-2")), batcher.WriteAsync(Released(deployment, "orders-3")) };
        var bad = batcher.WriteAsync(Running(deployment, "not-a-target"));
        var last = batcher.WriteAsync(Released(deployment, "orders-4"));
        gate.SetResult();

        await Task.WhenAll(good.Append(first).Append(last)).WaitAsync(Bound);
        var error = await Assert.ThrowsAsync<StoreException>(() => bad.WaitAsync(Bound));
        Assert.Equal(StoreErrorIds.DeploymentTargetNotFound, error.ErrorId);
        var targets = await _scope.Store.GetTargetsAsync(deployment, CancellationToken.None);
        Assert.Equal(new[] { TargetStatus.Running, TargetStatus.Running, TargetStatus.Succeeded, TargetStatus.Succeeded }, targets.Select(t => t.Status));
        Assert.Equal(2, (await _scope.Store.GetDeploymentAsync(deployment, CancellationToken.None))!.SucceededTargets);
        // The batch of four failed whole, then each of its writes went alone.
        Assert.Equal(new[] { 1, 4, 1, 1, 1, 1 }, store.CommitSizes);
    }

    private async Task<string> CreateRunAsync(IReadOnlyList<string> ids)
    {
        await _scope.Store.RegisterInstancesAsync(ids.Select(id => StoreSamples.Instance(id)).ToList(), CancellationToken.None);
        var created = await _scope.Store.CreateDeploymentAsync(StoreSamples.Deployment(), ids.Select(id => StoreSamples.Target(id)).ToList(), CancellationToken.None);
        return created.DeploymentId;
    }

    private TargetWrite Running(string deployment, string id) =>
        TargetWrite.Of(StoreSamples.Target(id, TargetStatus.Running) with { DeploymentId = deployment, StartedAt = _scope.Clock.Now });

    private static TargetWrite Released(string deployment, string id) => TargetWrite.Of(StoreSamples.Release(deployment, id, "2.0.0"));

    /// <summary>The real store, with each WriteTargetsAsync call's size noted and the first one held until the test lets it go.</summary>
    public class CountingStore : DispatchProxy
    {
        private readonly ConcurrentQueue<int> _sizes = new();
        private readonly ConcurrentQueue<(string InstanceId, TargetStatus Status)> _written = new();
        private IReleaseStore _inner = null!;
        private TaskCompletionSource? _gate;
        private readonly TaskCompletionSource _firstStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyList<int> CommitSizes => _sizes.ToList();

        /// <summary>Every target write committed through WriteTargetsAsync, in order: the instance and the status it wrote.</summary>
        public IReadOnlyList<(string InstanceId, TargetStatus Status)> Written => _written.ToList();
        public Task FirstCommitStarted => _firstStarted.Task;

        public static CountingStore Around(IReleaseStore inner)
        {
            var proxy = Create<IReleaseStore, CountingStore>();
            var counting = (CountingStore)(object)proxy;
            counting._inner = inner;
            return counting;
        }

        /// <summary>This proxy as the store it stands for.</summary>
        public IReleaseStore AsStore => (IReleaseStore)(object)this;

        public TaskCompletionSource HoldFirstCommit() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name == nameof(IReleaseStore.WriteTargetsAsync))
            {
                return WriteAsync((IReadOnlyList<TargetWrite>)args![0]!);
            }

            return targetMethod.Invoke(_inner, args);
        }

        private async Task WriteAsync(IReadOnlyList<TargetWrite> writes)
        {
            _sizes.Enqueue(writes.Count);
            var gate = Interlocked.Exchange(ref _gate, null);
            if (gate != null)
            {
                _firstStarted.TrySetResult();
                await gate.Task;
            }

            await _inner.WriteTargetsAsync(writes, CancellationToken.None);
            foreach (var write in writes)
            {
                _written.Enqueue((write.InstanceId, write.State?.Status ?? write.Release!.TargetStatus));
            }
        }
    }
}
