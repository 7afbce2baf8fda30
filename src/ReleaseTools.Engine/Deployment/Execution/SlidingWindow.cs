using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Runs work items with at most N in flight; each finished item frees its slot for the next at once, so one slow
    /// instance never holds back the start of the others (unlike fixed chunks of N).
    /// </summary>
    internal static class SlidingWindow
    {
        /// <summary>Returns the items that never started because cancellation was requested first.</summary>
        public static async Task<IReadOnlyList<T>> RunAsync<T>(IReadOnlyList<T> items, int limit, Func<T, Task> work, CancellationToken cancellationToken)
        {
            using var slots = new SemaphoreSlim(Math.Max(1, limit));
            var running = new List<Task>(items.Count);
            var notStarted = new List<T>();
            for (var i = 0; i < items.Count; i++)
            {
                try
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        throw new OperationCanceledException(cancellationToken);
                    }

                    await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    for (var j = i; j < items.Count; j++)
                    {
                        notStarted.Add(items[j]);
                    }

                    break;
                }

                var item = items[i];
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        await work(item).ConfigureAwait(false);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }));
            }

            await Task.WhenAll(running).ConfigureAwait(false);
            return notStarted;
        }
    }
}
