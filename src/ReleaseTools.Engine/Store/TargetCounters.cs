using System.Linq;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// Which target statuses each of a run's counters counts (Succeeded counts Unchanged, Failed counts Unreachable), as
    /// SQL both stores share: the full recount a run gets when it is created, changes status or is interrupted, and the
    /// per-target adjustment that keeps the counters live while it runs.
    /// </summary>
    /// <remarks>
    /// A target's state is written several times per instance, so recounting the run there (a read of every target of the
    /// run per write) made a run's store cost grow with the square of its size: a no-op redeploy of 1,000 instances spent
    /// more CPU in those recounts than in everything else. The adjustment reads only the target's own previous status.
    /// </remarks>
    internal static class TargetCounters
    {
        public const string SucceededStatuses = "'succeeded', 'unchanged'";
        public const string FailedStatuses = "'failed', 'unreachable'";
        public const string SkippedStatuses = "'skipped'";
        public const string CancelledStatuses = "'cancelled'";

        private static readonly (string Column, string Statuses)[] Counters =
        {
            ("succeeded_targets", SucceededStatuses),
            ("failed_targets", FailedStatuses),
            ("skipped_targets", SkippedStatuses),
            ("cancelled_targets", CancelledStatuses),
        };

        /// <summary>
        /// The SET list that moves each counter by one target's change of status, from the SQL expression
        /// <paramref name="oldStatus"/> to <paramref name="newStatus"/> (portable SQL: SQLite and PostgreSQL).
        /// </summary>
        public static string Adjustments(string newStatus, string oldStatus) =>
            string.Join(", ", Counters.Select(c =>
                $"{c.Column} = {c.Column} + {CountsIn(newStatus, c.Statuses)} - {CountsIn(oldStatus, c.Statuses)}"));

        /// <summary>A condition true only when the change of status moves some counter, so an unchanged count writes nothing.</summary>
        public static string MovesACounter(string newStatus, string oldStatus) =>
            "(" + string.Join(" OR ", Counters.Select(c => $"{CountsIn(newStatus, c.Statuses)} <> {CountsIn(oldStatus, c.Statuses)}")) + ")";

        private static string CountsIn(string status, string statuses) => $"(CASE WHEN {status} IN ({statuses}) THEN 1 ELSE 0 END)";
    }
}
