using System.Threading;
using System.Threading.Tasks;

namespace ReleaseTools.Engine.Lifecycle.Notifications
{
    /// <summary>
    /// Announces a release's transitions and stage results to the webhooks registered in the store.
    /// <para>
    /// How the lifecycle calls it: after a transition (or a stage's completion or failure) has been committed to the
    /// store, build a <see cref="ReleaseNotice"/> and await <see cref="NotifyAsync"/>; then show each failed entry of
    /// the returned report as a warning. The transition is never undone or held back by a webhook: NotifyAsync never
    /// throws (a cancelled token ends delivery early and reports what was not delivered), records every attempt in
    /// the store's delivery log, and returns within a bound the notifier documents (every webhook is posted to at
    /// once; each attempt has its own timeout and the retries of one webhook have a total deadline).
    /// </para>
    /// </summary>
    public interface IReleaseNotifier
    {
        Task<NotificationReport> NotifyAsync(ReleaseNotice notice, CancellationToken cancellationToken);
    }

    /// <summary>The notifier of a store with no webhooks, or of a caller that wants none: delivers nothing, at once.</summary>
    public sealed class NoReleaseNotifier : IReleaseNotifier
    {
        public static NoReleaseNotifier Instance { get; } = new NoReleaseNotifier();

        private NoReleaseNotifier()
        {
        }

        public Task<NotificationReport> NotifyAsync(ReleaseNotice notice, CancellationToken cancellationToken) =>
            Task.FromResult(NotificationReport.Empty);
    }
}
