using System;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>
    /// Keeps a claimed lifecycle lease alive while its holder works: renewed every third of its duration, so another
    /// machine sees it expire only when this process is gone. A renewal that finds the lease taken stops renewing.
    /// </summary>
    internal sealed class LeaseHeartbeat : IDisposable
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Task _loop;

        public LeaseHeartbeat(ILifecycleStore store, string name, string holderId, TimeSpan duration)
        {
            var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(50).Ticks, duration.Ticks / 3));
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        await Task.Delay(interval, _stop.Token).ConfigureAwait(false);
                        var claim = await store.TryClaimLifecycleLeaseAsync(name, holderId, duration, _stop.Token).ConfigureAwait(false);
                        if (!claim.Acquired)
                        {
                            Lost = true;
                            return;
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    catch (StoreException)
                    {
                        // The store is briefly unavailable: the next beat tries again, well before the lease expires.
                    }
                }
            });
        }

        /// <summary>True when another holder took the lease (this one expired unrenewed).</summary>
        public bool Lost { get; private set; }

        public async Task StopAsync()
        {
            _stop.Cancel();
            await _loop.ConfigureAwait(false);
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}
