using System;
using System.Collections.Generic;
using System.Linq;

namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>
    /// The one table of allowed transitions. Everything that changes a release's state asks it first, and the store
    /// applies the answer only while the release is still in the state it was judged in.
    /// </summary>
    public static class ReleaseStateMachine
    {
        /// <summary>The history row of a release's creation: it enters PendingReview from no state.</summary>
        public const string CreatedEventName = "create";

        /// <summary>The history row of an edit that returned an approved release to review (approvals bind to content).</summary>
        public const string EditedEventName = "edit";

        private static readonly IReadOnlyDictionary<ReleaseEvent, (ReleaseState[] From, ReleaseState To)> Table = new Dictionary<ReleaseEvent, (ReleaseState[], ReleaseState)>
        {
            [ReleaseEvent.Approve] = (new[] { ReleaseState.PendingReview }, ReleaseState.Approved),
            [ReleaseEvent.Reject] = (new[] { ReleaseState.PendingReview }, ReleaseState.Rejected),
            // Never while a stage deploys: the runs in flight would be left without an owner.
            [ReleaseEvent.Cancel] = (new[] { ReleaseState.PendingReview, ReleaseState.Approved, ReleaseState.Tagged, ReleaseState.PreDeployed }, ReleaseState.Cancelled),
            [ReleaseEvent.ConfirmTag] = (new[] { ReleaseState.Approved }, ReleaseState.Tagged),
            [ReleaseEvent.StartPreDeploy] = (new[] { ReleaseState.Tagged }, ReleaseState.PreDeploying),
            [ReleaseEvent.PreDeployCompleted] = (new[] { ReleaseState.PreDeploying }, ReleaseState.PreDeployed),
            [ReleaseEvent.PreDeployFailed] = (new[] { ReleaseState.PreDeploying }, ReleaseState.Tagged),
            [ReleaseEvent.StartProdDeploy] = (new[] { ReleaseState.PreDeployed }, ReleaseState.ProdDeploying),
            [ReleaseEvent.ProdDeployCompleted] = (new[] { ReleaseState.ProdDeploying }, ReleaseState.ProdDeployed),
            [ReleaseEvent.ProdDeployFailed] = (new[] { ReleaseState.ProdDeploying }, ReleaseState.PreDeployed),
            [ReleaseEvent.FinalAccept] = (new[] { ReleaseState.ProdDeployed }, ReleaseState.Accepted),
        };

        private static readonly IReadOnlyDictionary<ReleaseEvent, string> Names = new Dictionary<ReleaseEvent, string>
        {
            [ReleaseEvent.Approve] = "approve",
            [ReleaseEvent.Reject] = "reject",
            [ReleaseEvent.Cancel] = "cancel",
            [ReleaseEvent.ConfirmTag] = "confirm_tag",
            [ReleaseEvent.StartPreDeploy] = "start_pre_deploy",
            [ReleaseEvent.PreDeployCompleted] = "pre_deploy_completed",
            [ReleaseEvent.PreDeployFailed] = "pre_deploy_failed",
            [ReleaseEvent.StartProdDeploy] = "start_prod_deploy",
            [ReleaseEvent.ProdDeployCompleted] = "prod_deploy_completed",
            [ReleaseEvent.ProdDeployFailed] = "prod_deploy_failed",
            [ReleaseEvent.FinalAccept] = "final_accept",
        };

        /// <summary>The state the event leads to from <paramref name="from"/>, or null when the event is not allowed there.</summary>
        public static ReleaseState? Next(ReleaseState from, ReleaseEvent releaseEvent) =>
            Table.TryGetValue(releaseEvent, out var rule) && Array.IndexOf(rule.From, from) >= 0 ? rule.To : (ReleaseState?)null;

        /// <summary>The events allowed in a state, in the table's order.</summary>
        public static IReadOnlyList<ReleaseEvent> AllowedEvents(ReleaseState state) =>
            Table.Where(rule => Array.IndexOf(rule.Value.From, state) >= 0).Select(rule => rule.Key).ToList();

        /// <summary>Every state an event may be fired from.</summary>
        public static IReadOnlyList<ReleaseState> SourcesOf(ReleaseEvent releaseEvent) => Table[releaseEvent].From;

        /// <summary>The name an event has in the history and in notifications: approve, confirm_tag, start_pre_deploy...</summary>
        public static string NameOf(ReleaseEvent releaseEvent) => Names[releaseEvent];

        /// <summary>Whether some sequence of events leads from <paramref name="from"/> to <paramref name="to"/> (a state reaches itself).</summary>
        public static bool CanReach(ReleaseState from, ReleaseState to)
        {
            var seen = new HashSet<ReleaseState> { from };
            var next = new Queue<ReleaseState>(seen);
            while (next.Count > 0)
            {
                var state = next.Dequeue();
                if (state == to)
                {
                    return true;
                }

                foreach (var releaseEvent in AllowedEvents(state))
                {
                    var reached = Next(state, releaseEvent)!.Value;
                    if (seen.Add(reached))
                    {
                        next.Enqueue(reached);
                    }
                }
            }

            return false;
        }

        /// <summary>Terminal states: no event leaves them.</summary>
        public static bool IsFinal(ReleaseState state) => AllowedEvents(state).Count == 0;

        /// <summary>The next state, or <see cref="LifecycleException"/> ReleaseTransitionInvalid naming the events allowed now.</summary>
        public static ReleaseState Require(string releaseId, ReleaseState from, ReleaseEvent releaseEvent) =>
            Next(from, releaseEvent) ?? throw LifecycleException.TransitionInvalid(releaseId, from, releaseEvent);

        /// <summary>"approve, reject, cancel", or "none (the release is final)".</summary>
        public static string Describe(IEnumerable<ReleaseEvent> events)
        {
            var names = events.Select(NameOf).ToList();
            return names.Count == 0 ? "none (the release is final)" : string.Join(", ", names);
        }
    }
}
