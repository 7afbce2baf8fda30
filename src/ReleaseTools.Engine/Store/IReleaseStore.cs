using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// Everything ReleaseTools knows: the instance registry, deployment records with per-target outcomes,
    /// version history, config snapshots and instance leases. SQLite (Store/Sqlite) is the embedded implementation,
    /// PostgreSQL (Store/Postgres) the shared server one; one contract test suite holds both to the same behaviour. Every method is one short transaction.
    /// </summary>
    public interface IReleaseStore : IDisposable
    {
        /// <summary>Where the store lives, for messages (a file path for SQLite).</summary>
        string Location { get; }

        /// <summary>The release lifecycle's records in this store: releases, their transitions, approvals and stage runs.</summary>
        Lifecycle.ILifecycleStore Lifecycle { get; }

        // Instance registry --------------------------------------------------------------------------
        /// <summary>Adds the instance, or updates its service/environment/host/port/tags if the id exists (version history is kept).</summary>
        Task<InstanceRecord> RegisterInstanceAsync(InstanceRegistration registration, CancellationToken cancellationToken);
        Task<int> RegisterInstancesAsync(IReadOnlyList<InstanceRegistration> registrations, CancellationToken cancellationToken);
        /// <summary>Removes the instance from the registry; its history stays. False when it did not exist.</summary>
        Task<bool> UnregisterInstanceAsync(string instanceId, CancellationToken cancellationToken);
        Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken);
        Task<IReadOnlyList<InstanceRecord>> FindInstancesAsync(InstanceQuery query, CancellationToken cancellationToken);
        /// <summary>Distinct service names, for argument completion.</summary>
        Task<IReadOnlyList<string>> GetServiceNamesAsync(CancellationToken cancellationToken);
        /// <summary>Distinct versions known for a service (registry and history), for argument completion.</summary>
        Task<IReadOnlyList<string>> GetVersionsAsync(string? service, CancellationToken cancellationToken);
        /// <summary>Records an observed state without a release (e.g. an agent reported unreachable).</summary>
        Task SetInstanceStatusAsync(string instanceId, InstanceStatus status, CancellationToken cancellationToken);

        // Deployments -------------------------------------------------------------------------------
        /// <summary>
        /// Writes the run with its targets. When it resumes an earlier run (ResumedFrom), the earlier run is marked
        /// ResumedBy this one in the same transaction, with an audit line keeping the status it had; a run that was
        /// already resumed throws StoreException DeploymentAlreadyResumed and nothing is written.
        /// </summary>
        Task<DeploymentRecord> CreateDeploymentAsync(NewDeployment deployment, IReadOnlyList<DeploymentTargetRecord> targets, CancellationToken cancellationToken);
        /// <summary>
        /// Sets the status; Running sets StartedAt, a final status sets EndedAt. Counters are recomputed from the targets.
        /// A final status also becomes the status of every run this one resumed (its ResumedFrom chain), so a resumed run
        /// shows its new outcome.
        /// </summary>
        Task<DeploymentRecord> SetDeploymentStatusAsync(string deploymentId, DeploymentStatus status, CancellationToken cancellationToken);
        Task<DeploymentRecord?> GetDeploymentAsync(string deploymentId, CancellationToken cancellationToken);
        Task<IReadOnlyList<DeploymentRecord>> FindDeploymentsAsync(DeploymentQuery query, CancellationToken cancellationToken);
        Task<IReadOnlyList<DeploymentTargetRecord>> GetTargetsAsync(string deploymentId, CancellationToken cancellationToken);
        /// <summary>Writes one target's state as it changes (running, failed, skipped...); the run's counters follow at once.</summary>
        Task UpdateTargetAsync(DeploymentTargetRecord target, CancellationToken cancellationToken);
        /// <summary>
        /// A target failed because the agent reverted the release it installed: in one transaction the target is written as
        /// <see cref="UpdateTargetAsync"/> does and a Reverted history row is appended (previous version: what the instance
        /// still runs). The instance itself is left as it is.
        /// </summary>
        Task RecordRevertedAsync(DeploymentTargetRecord target, RevertedAttempt attempt, CancellationToken cancellationToken);
        /// <summary>
        /// A target reached its release: in one transaction the target is marked, the instance's version and
        /// fversion are updated, and a history row is appended (not for Unchanged when the instance's record already named
        /// that fversion, which moves nothing; an Unchanged instance whose record said otherwise gets its row).
        /// </summary>
        Task RecordReleaseAsync(ReleaseOutcome outcome, CancellationToken cancellationToken);
        /// <summary>Several outcomes in one transaction: the batch form of <see cref="RecordReleaseAsync"/>, all or none written.</summary>
        Task RecordReleasesAsync(IReadOnlyList<ReleaseOutcome> outcomes, CancellationToken cancellationToken);
        /// <summary>
        /// Several target writes, each as <see cref="UpdateTargetAsync"/> or <see cref="RecordReleaseAsync"/> makes it, in one
        /// transaction, in order, all or none written: how a run commits its concurrent instances' writes together.
        /// </summary>
        Task WriteTargetsAsync(IReadOnlyList<TargetWrite> writes, CancellationToken cancellationToken);
        Task AppendAuditAsync(string deploymentId, string kind, string message, CancellationToken cancellationToken);
        Task<IReadOnlyList<AuditEntry>> GetAuditAsync(string deploymentId, CancellationToken cancellationToken);

        // History and config snapshots ----------------------------------------------------------------
        /// <summary>The releases the instance ran, newest first (no reverted attempts): what rollback and resume reason over.</summary>
        Task<IReadOnlyList<VersionHistoryRecord>> GetHistoryAsync(string instanceId, int limit, CancellationToken cancellationToken);
        /// <summary>The releases and the reverted attempts between them, newest first: what a person reads (Get-InstanceVersionHistory).</summary>
        Task<IReadOnlyList<VersionHistoryRecord>> GetHistoryIncludingRevertedAsync(string instanceId, int limit, CancellationToken cancellationToken);
        /// <summary>Released rows of every instance of a service (optionally one environment, one version), newest first.</summary>
        Task<IReadOnlyList<VersionHistoryRecord>> FindHistoryAsync(HistoryQuery query, CancellationToken cancellationToken);
        /// <summary>Appends history rows as given (Sequence assigned by the store) without touching instances or targets.</summary>
        Task<int> ImportHistoryAsync(IReadOnlyList<VersionHistoryRecord> records, CancellationToken cancellationToken);
        /// <summary>Keeps rendered config bytes under their digest (idempotent).</summary>
        Task SaveConfigSnapshotAsync(string digest, string fileName, byte[] content, CancellationToken cancellationToken);
        Task<byte[]?> GetConfigSnapshotAsync(string digest, CancellationToken cancellationToken);

        // Webhooks ------------------------------------------------------------------------------------
        /// <summary>
        /// Adds the webhook (validated by <see cref="WebhookRules"/>). One of the same name (case-insensitive) is replaced,
        /// keeping its CreatedAt, when <paramref name="replaceExisting"/>; otherwise StoreException WebhookExists and nothing is written.
        /// </summary>
        Task<WebhookRecord> SaveWebhookAsync(WebhookRegistration webhook, bool replaceExisting, CancellationToken cancellationToken);
        /// <summary>Removes the webhook; its deliveries stay in the log. False when there was none.</summary>
        Task<bool> RemoveWebhookAsync(string name, CancellationToken cancellationToken);
        /// <summary>Switches the webhook on or off (UpdatedAt moves only when it changes); null when there is no webhook of that name.</summary>
        Task<WebhookRecord?> SetWebhookEnabledAsync(string name, bool enabled, CancellationToken cancellationToken);
        /// <summary>Every webhook, enabled or not, ordered by name.</summary>
        Task<IReadOnlyList<WebhookRecord>> GetWebhooksAsync(CancellationToken cancellationToken);
        /// <summary>Appends one settled delivery to the log (Sequence and RecordedAt assigned by the store).</summary>
        Task<WebhookDeliveryRecord> RecordWebhookDeliveryAsync(NewWebhookDelivery delivery, CancellationToken cancellationToken);
        /// <summary>Deliveries matching the query, newest first.</summary>
        Task<IReadOnlyList<WebhookDeliveryRecord>> FindWebhookDeliveriesAsync(WebhookDeliveryQuery query, CancellationToken cancellationToken);

        // Leases ---------------------------------------------------------------------------------------
        /// <summary>
        /// Claims every listed instance for the owner's deployment, or none: an instance is free when it has no
        /// lease, its lease expired, or the same deployment holds it. Uses a conditional update, so two
        /// processes never both win.
        /// </summary>
        Task<LeaseClaimResult> TryClaimInstancesAsync(LeaseOwner owner, IReadOnlyList<string> instanceIds, TimeSpan leaseDuration, CancellationToken cancellationToken);
        /// <summary>
        /// Extends the expiry of every lease the deployment still holds and says which those are; an instance the run
        /// claimed that is missing from the answer was lost and must not be touched again.
        /// </summary>
        Task<LeaseRenewal> RenewLeasesAsync(string deploymentId, TimeSpan leaseDuration, CancellationToken cancellationToken);
        Task ReleaseLeasesAsync(string deploymentId, CancellationToken cancellationToken);
        Task<IReadOnlyList<LeaseRecord>> GetLeasesAsync(IReadOnlyList<string>? instanceIds, CancellationToken cancellationToken);
        /// <summary>Drops an instance's lease whoever holds it, and records who forced it and why in the holder's audit trail.</summary>
        Task<LeaseRecord?> ForceReleaseLeaseAsync(string instanceId, string releasedBy, string reason, CancellationToken cancellationToken);
        /// <summary>
        /// Marks Running deployments whose leases expired (or whose owner process on this host is gone, or whose
        /// leases were all force-released while its owner runs on another host) as Interrupted, their Running/Pending
        /// targets too, and releases their leases. Returns what it changed.
        /// </summary>
        Task<IReadOnlyList<DeploymentRecord>> RecoverInterruptedAsync(Func<LeaseOwner, bool> isOwnerAlive, CancellationToken cancellationToken);
    }
}
