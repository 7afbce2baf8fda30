using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>
    /// The release store's part for the lifecycle: releases with their service entries, frozen configs, transition
    /// history, approvals, stage runs, the approval policy and named leases. Every method is one short transaction; every
    /// state change is conditional on the state it was judged in and writes its transition row in the same transaction,
    /// so two processes firing events at once never both win. SQLite and PostgreSQL implement it alike (one contract
    /// test suite holds both to it).
    /// </summary>
    public interface ILifecycleStore
    {
        /// <summary>Writes the release in PendingReview at revision 1 with its entries and a "create" transition row.</summary>
        Task<ReleaseRecord> CreateReleaseAsync(NewRelease release, IReadOnlyList<ReleaseEntry> entries, CancellationToken cancellationToken);
        Task<ReleaseRecord?> GetReleaseAsync(string releaseId, CancellationToken cancellationToken);
        /// <summary>Newest first.</summary>
        Task<IReadOnlyList<ReleaseRecord>> FindReleasesAsync(ReleaseQuery query, CancellationToken cancellationToken);
        /// <summary>In the order they were added, each with its frozen config snapshots.</summary>
        Task<IReadOnlyList<ReleaseEntry>> GetReleaseEntriesAsync(string releaseId, CancellationToken cancellationToken);
        /// <summary>Oldest first.</summary>
        Task<IReadOnlyList<ReleaseTransitionRecord>> GetReleaseTransitionsAsync(string releaseId, CancellationToken cancellationToken);
        /// <summary>Every approval, of every revision, oldest first.</summary>
        Task<IReadOnlyList<ReleaseApprovalRecord>> GetReleaseApprovalsAsync(string releaseId, CancellationToken cancellationToken);
        /// <summary>Oldest first.</summary>
        Task<IReadOnlyList<ReleaseRunRecord>> GetReleaseRunsAsync(string releaseId, CancellationToken cancellationToken);

        /// <summary>
        /// Moves the release from <see cref="ReleaseTransition.From"/> to <see cref="ReleaseTransition.To"/> only while it is
        /// still there (and at <see cref="ReleaseTransition.Revision"/> when set), freezing entries when asked, and writes the
        /// transition row, all in one transaction; otherwise changes nothing and says why.
        /// </summary>
        Task<ReleaseChange> TransitionReleaseAsync(ReleaseTransition transition, CancellationToken cancellationToken);

        /// <summary>
        /// Applies a content edit while the release is PendingReview or Approved (refused as Frozen otherwise), raising its
        /// revision; an Approved release returns to PendingReview with an "edit" transition row in the same transaction.
        /// </summary>
        Task<ReleaseChange> EditReleaseAsync(ReleaseEdit edit, CancellationToken cancellationToken);

        /// <summary>
        /// Records one approval of the revision while the release is PendingReview at that revision; when the revision then
        /// has <see cref="ReleaseApproval.RequiredApprovals"/> distinct approvers the release moves to Approved with an
        /// "approve" transition row, in the same transaction.
        /// </summary>
        Task<ReleaseChange> ApproveReleaseAsync(ReleaseApproval approval, CancellationToken cancellationToken);

        /// <summary>Adds a stage run; the store assigns its Sequence.</summary>
        Task<ReleaseRunRecord> AddReleaseRunAsync(ReleaseRunRecord run, CancellationToken cancellationToken);
        /// <summary>Updates the run with the same Sequence (deployment id, status, error, end).</summary>
        Task UpdateReleaseRunAsync(ReleaseRunRecord run, CancellationToken cancellationToken);

        Task<ReleasePolicy> GetReleasePolicyAsync(CancellationToken cancellationToken);
        Task SetReleasePolicyAsync(ReleasePolicy policy, CancellationToken cancellationToken);

        /// <summary>
        /// Claims (or, for the same holder, extends) the named lease when it is free or expired: a conditional write, so of
        /// two machines claiming at once exactly one wins.
        /// </summary>
        Task<LifecycleLeaseClaim> TryClaimLifecycleLeaseAsync(string name, string holderId, TimeSpan duration, CancellationToken cancellationToken);
        /// <summary>Drops the named lease if this holder has it.</summary>
        Task ReleaseLifecycleLeaseAsync(string name, string holderId, CancellationToken cancellationToken);
        Task<LifecycleLease?> GetLifecycleLeaseAsync(string name, CancellationToken cancellationToken);
    }
}
