using System;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Retries transient Floyd failures (connection errors, 5xx, timeouts) with exponential backoff. Signature and
    /// MD5 rejections are never transient, so they surface at once.
    /// </summary>
    internal sealed class RetryExecutor
    {
        private readonly RetryPolicy _policy;

        public RetryExecutor(RetryPolicy policy)
        {
            _policy = policy;
        }

        public int MaxAttempts => Math.Max(1, _policy.MaxAttempts);

        /// <summary>Delay before try number <paramref name="nextAttempt"/> (2 = first retry).</summary>
        public TimeSpan DelayBefore(int nextAttempt)
        {
            var factor = Math.Pow(_policy.BackoffFactor <= 0 ? 1 : _policy.BackoffFactor, nextAttempt - 2);
            return TimeSpan.FromTicks((long)Math.Min(TimeSpan.MaxValue.Ticks / 2.0, _policy.InitialDelay.Ticks * factor));
        }

        /// <param name="onAttempt">Called before every try with its number (1 = first).</param>
        /// <param name="onRetryWait">Called before a backoff wait with the number of the try that will follow.</param>
        public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> action, Action<int> onAttempt, Action<int, FloydException> onRetryWait,
            CancellationToken cancellationToken)
        {
            for (var attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                onAttempt(attempt);
                try
                {
                    return await action(cancellationToken).ConfigureAwait(false);
                }
                catch (FloydException ex) when (ex.IsTransient && attempt < MaxAttempts && !cancellationToken.IsCancellationRequested)
                {
                    onRetryWait(attempt + 1, ex);
                    await Task.Delay(DelayBefore(attempt + 1), cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public Task RunAsync(Func<CancellationToken, Task> action, Action<int> onAttempt, Action<int, FloydException> onRetryWait,
            CancellationToken cancellationToken) =>
            RunAsync(async token =>
            {
                await action(token).ConfigureAwait(false);
                return true;
            }, onAttempt, onRetryWait, cancellationToken);
    }
}
