using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Group commit for one run's target writes: the writes its concurrent instances ask for while a commit is under way
    /// are committed together in the next one (<see cref="IReleaseStore.WriteTargetsAsync"/>), instead of a transaction
    /// each queueing on the store's write lock. Each caller's task ends only when its own write is committed, so nothing
    /// that happened on an agent goes unrecorded when the process is killed, as with one transaction a write.
    /// </summary>
    internal sealed class TargetWriteBatcher
    {
        private readonly IReleaseStore _store;
        private readonly object _gate = new object();
        private List<Pending> _queue = new List<Pending>();
        private bool _committing;

        public TargetWriteBatcher(IReleaseStore store)
        {
            _store = store;
        }

        public Task WriteAsync(TargetWrite write)
        {
            var pending = new Pending(write);
            bool lead;
            lock (_gate)
            {
                _queue.Add(pending);
                lead = !_committing;
                _committing = true;
            }

            if (lead)
            {
                // The first writer of a quiet moment starts the commit loop off its own thread, so it does not wait for the
                // writes of others that join while the loop runs.
                _ = Task.Run(CommitQueuedAsync);
            }

            return pending.Committed.Task;
        }

        private async Task CommitQueuedAsync()
        {
            while (true)
            {
                List<Pending> batch;
                lock (_gate)
                {
                    if (_queue.Count == 0)
                    {
                        _committing = false;
                        return;
                    }

                    batch = _queue;
                    _queue = new List<Pending>();
                }

                await CommitAsync(batch).ConfigureAwait(false);
            }
        }

        private async Task CommitAsync(List<Pending> batch)
        {
            var writes = new List<TargetWrite>(batch.Count);
            foreach (var pending in batch)
            {
                writes.Add(pending.Write);
            }

            try
            {
                // CancellationToken.None on purpose (see RunRecorder): what happened on an agent is recorded even in a cancelled run.
                await _store.WriteTargetsAsync(writes, CancellationToken.None).ConfigureAwait(false);
                foreach (var pending in batch)
                {
                    pending.Committed.TrySetResult(true);
                }

                return;
            }
            catch (Exception) when (batch.Count > 1)
            {
                // Nothing of the batch was written. Each write is tried alone, so one bad write (an instance removed from the
                // registry meanwhile) fails only its own caller, with its own error.
            }
            catch (Exception ex)
            {
                batch[0].Committed.TrySetException(ex);
                return;
            }

            foreach (var pending in batch)
            {
                try
                {
                    await _store.WriteTargetsAsync(new[] { pending.Write }, CancellationToken.None).ConfigureAwait(false);
                    pending.Committed.TrySetResult(true);
                }
                catch (Exception ex)
                {
                    pending.Committed.TrySetException(ex);
                }
            }
        }

        private sealed class Pending
        {
            public Pending(TargetWrite write)
            {
                Write = write;
            }

            public TargetWrite Write { get; }

            // Callers go on with their instance on a thread of their own, not inside the commit loop.
            public TaskCompletionSource<bool> Committed { get; } = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }
}
