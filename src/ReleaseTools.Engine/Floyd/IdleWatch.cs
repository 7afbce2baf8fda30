using System;
using System.Threading;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// Cancels one request when no byte has moved on it (sent or received) for <see cref="Limit"/>: a stalled agent or
    /// network fails in that time instead of holding its instance until the step's whole timeout, which for a package
    /// push must be long enough for gigabytes. Every sign of progress restarts the clock.
    /// </summary>
    internal sealed class IdleWatch : IDisposable
    {
        private readonly CancellationTokenSource _source = new CancellationTokenSource();

        public IdleWatch(TimeSpan limit)
        {
            Limit = limit;
        }

        public TimeSpan Limit { get; }

        /// <summary>False when the options turned the idle timeout off (zero or infinite).</summary>
        public bool Enabled => Limit > TimeSpan.Zero && Limit != Timeout.InfiniteTimeSpan;

        public CancellationToken Token => _source.Token;

        /// <summary>True once the request was cancelled because nothing moved for <see cref="Limit"/>.</summary>
        public bool Fired => _source.IsCancellationRequested;

        /// <summary>Bytes moved (or the answer's headers came): the clock starts again.</summary>
        public void Progress()
        {
            if (!Enabled || Fired)
            {
                return;
            }

            try
            {
                _source.CancelAfter(Limit);
            }
            catch (ObjectDisposedException)
            {
                // The request ended while its last chunk was being counted.
            }
        }

        public void Dispose() => _source.Dispose();
    }
}
