using System;
using System.Collections.Generic;
using System.Linq;

namespace ReleaseTools.Engine.Lifecycle.Notifications
{
    /// <summary>
    /// How hard a notice is pushed to a webhook. With the defaults a webhook gets at most 4 attempts (retries after 1 s,
    /// 2 s and 4 s) of at most 5 s each, and the whole notice is settled within <see cref="Deadline"/> (30 s) whatever
    /// the webhooks do: a transition that was already committed waits no longer than that for its announcement.
    /// </summary>
    public sealed record WebhookDeliveryOptions
    {
        public static WebhookDeliveryOptions Default { get; } = new WebhookDeliveryOptions();

        /// <summary>How long one attempt may take, from connecting to the end of the answer.</summary>
        public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(5);

        /// <summary>The wait before each retry; its length is the number of retries. Retried: no answer, a refused connection, 408, 429 and 5xx.</summary>
        public IReadOnlyList<TimeSpan> RetryDelays { get; init; } = new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4) };

        /// <summary>When a 429 answer's Retry-After asks for longer than the planned delay, it is honoured up to this.</summary>
        public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(10);

        /// <summary>Every webhook of a notice is settled (delivered or given up) within this, from the start of NotifyAsync.</summary>
        public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(30);

        /// <summary>The longest one webhook can take with these settings (at most <see cref="Deadline"/>).</summary>
        public TimeSpan WorstCase
        {
            get
            {
                var planned = TimeSpan.FromTicks(AttemptTimeout.Ticks * (RetryDelays.Count + 1) + RetryDelays.Sum(d => d.Ticks));
                return planned < Deadline ? planned : Deadline;
            }
        }
    }
}
