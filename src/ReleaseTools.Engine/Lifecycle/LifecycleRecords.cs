using System;
using System.Collections.Generic;

namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>A release: a batch of service entries that moves together from review to production.</summary>
    public sealed record ReleaseRecord
    {
        public string ReleaseId { get; init; } = "";
        public string Name { get; init; } = "";
        public string? Description { get; init; }
        /// <summary>The environment the pre-release stage deploys to (every entry's service instances there).</summary>
        public string PreEnvironment { get; init; } = "";
        public string ProdEnvironment { get; init; } = "";
        public ReleaseState State { get; init; }
        /// <summary>Raised by every content edit; approvals count only for the revision they were given on.</summary>
        public int Revision { get; init; }
        public string CreatedBy { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
    }

    /// <summary>How a service entry's config is given.</summary>
    public enum ReleaseConfigKind
    {
        /// <summary>No config: each environment keeps the config last deployed there (empty when there was none), frozen at tagging.</summary>
        None,
        /// <summary>A template with {{Name}} placeholders, rendered per environment at tagging.</summary>
        Template,
        /// <summary>A ready file, sent byte for byte to every environment.</summary>
        File,
    }

    /// <summary>One service of a release: what it deploys, and once tagged, the frozen checksum and configs.</summary>
    public sealed record ReleaseEntry
    {
        public string Service { get; init; } = "";
        public string Version { get; init; } = "";
        public string PackageUrl { get; init; } = "";
        /// <summary>MD5 (lowercase hex) of the package: as given, or computed from the package when the release is tagged.</summary>
        public string? Checksum { get; init; }
        public bool AllowLocalPackage { get; init; }
        public ReleaseConfigKind ConfigKind { get; init; }
        /// <summary>The template or file bytes, kept in the store so later changes on disk do not change the release.</summary>
        public byte[]? ConfigContent { get; init; }
        public string? ConfigFileName { get; init; }
        public IReadOnlyDictionary<string, string> ConfigValues { get; init; } = new Dictionary<string, string>();
        /// <summary>The configs frozen at tagging, one per environment (bytes in the store's config snapshots).</summary>
        public IReadOnlyList<ReleaseConfigSnapshot> Snapshots { get; init; } = Array.Empty<ReleaseConfigSnapshot>();
    }

    public sealed record ReleaseConfigSnapshot
    {
        public string Environment { get; init; } = "";
        /// <summary>MD5 (lowercase hex) of the rendered bytes, the key of the store's config snapshot.</summary>
        public string Digest { get; init; } = "";
        public string FileName { get; init; } = "";
    }

    /// <summary>One recorded state change: who fired which event, when, from and to which state, and why.</summary>
    public sealed record ReleaseTransitionRecord
    {
        public long Sequence { get; init; }
        public string ReleaseId { get; init; } = "";
        /// <summary>The event's name (approve, confirm_tag...; create and edit for creation and a return to review by an edit).</summary>
        public string Event { get; init; } = "";
        /// <summary>Null for the creation row.</summary>
        public ReleaseState? From { get; init; }
        public ReleaseState To { get; init; }
        public string Actor { get; init; } = "";
        public string? Comment { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
    }

    public sealed record ReleaseApprovalRecord
    {
        public string ReleaseId { get; init; } = "";
        /// <summary>The content revision approved: an edit afterwards voids the approval.</summary>
        public int Revision { get; init; }
        public string Approver { get; init; } = "";
        public string? Comment { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
    }

    public enum ReleaseRunStatus
    {
        Running,
        Succeeded,
        Failed,
    }

    /// <summary>One service's deployment in one stage of a release, with the engine run that did it.</summary>
    public sealed record ReleaseRunRecord
    {
        public long Sequence { get; init; }
        public string ReleaseId { get; init; } = "";
        /// <summary>The start_pre_deploy / start_prod_deploy transition (its Sequence) that began the stage this run belongs to.</summary>
        public long TransitionSequence { get; init; }
        public ReleaseStage Stage { get; init; }
        public string Service { get; init; } = "";
        public string Environment { get; init; } = "";
        /// <summary>The deployment run (Get-ReleaseDeployment); null when the deployment could not start at all.</summary>
        public string? DeploymentId { get; init; }
        public ReleaseRunStatus Status { get; init; }
        public string? Error { get; init; }
        public DateTimeOffset StartedAt { get; init; }
        public DateTimeOffset? EndedAt { get; init; }
    }

    /// <summary>Rules of one store for approvals. The defaults ask for one approval by anyone, the creator included.</summary>
    public sealed record ReleasePolicy
    {
        /// <summary>Distinct approvals of the same content needed before a release is Approved.</summary>
        public int RequiredApprovals { get; init; } = 1;
        /// <summary>Whether the release's creator may approve it.</summary>
        public bool AllowSelfApproval { get; init; } = true;
        /// <summary>When not empty, only these people may approve (compared case-insensitively).</summary>
        public IReadOnlyList<string> Approvers { get; init; } = Array.Empty<string>();
    }

    /// <summary>What a caller supplies to create a release.</summary>
    public sealed record NewRelease
    {
        public string Name { get; init; } = "";
        public string? Description { get; init; }
        public string PreEnvironment { get; init; } = "";
        public string ProdEnvironment { get; init; } = "";
        public string CreatedBy { get; init; } = "";
        public string? Comment { get; init; }
    }

    public sealed record ReleaseQuery
    {
        public string? ReleaseId { get; init; }
        public IReadOnlyList<ReleaseState>? States { get; init; }
        /// <summary>Newest first; at most this many (0 or less: all).</summary>
        public int Limit { get; init; } = 50;
    }

    /// <summary>
    /// A state change the store applies only while the release is still in <see cref="From"/>, writing the transition
    /// row in the same transaction.
    /// </summary>
    public sealed record ReleaseTransition
    {
        public string ReleaseId { get; init; } = "";
        public string Event { get; init; } = "";
        public ReleaseState From { get; init; }
        public ReleaseState To { get; init; }
        public string Actor { get; init; } = "";
        public string? Comment { get; init; }
        /// <summary>Applied only while the content is still at this revision, when set (tagging freezes what was judged).</summary>
        public int? Revision { get; init; }
        /// <summary>Tagging only: the checksum and config snapshots each service entry is frozen with.</summary>
        public IReadOnlyList<FrozenEntry>? Freeze { get; init; }
    }

    public sealed record FrozenEntry
    {
        public string Service { get; init; } = "";
        public string Checksum { get; init; } = "";
        public IReadOnlyList<ReleaseConfigSnapshot> Snapshots { get; init; } = Array.Empty<ReleaseConfigSnapshot>();
    }

    /// <summary>A content edit: applied only before tagging; an approved release returns to review.</summary>
    public sealed record ReleaseEdit
    {
        public string ReleaseId { get; init; } = "";
        public string Actor { get; init; } = "";
        public string? Comment { get; init; }
        public string? Name { get; init; }
        public string? Description { get; init; }
        public string? PreEnvironment { get; init; }
        public string? ProdEnvironment { get; init; }
        /// <summary>Entries added, or replacing the entry of the same service.</summary>
        public IReadOnlyList<ReleaseEntry> Upserts { get; init; } = Array.Empty<ReleaseEntry>();
        public IReadOnlyList<string> RemoveServices { get; init; } = Array.Empty<string>();
    }

    /// <summary>One approval of the content at <see cref="Revision"/>.</summary>
    public sealed record ReleaseApproval
    {
        public string ReleaseId { get; init; } = "";
        public string Approver { get; init; } = "";
        public string? Comment { get; init; }
        public int Revision { get; init; }
        public int RequiredApprovals { get; init; } = 1;
    }

    /// <summary>Why the store did not apply a change.</summary>
    public enum ReleaseChangeRefusal
    {
        None,
        NotFound,
        /// <summary>The release was no longer in the expected state.</summary>
        StateChanged,
        /// <summary>The content moved on from the revision the caller judged.</summary>
        RevisionChanged,
        /// <summary>The release is tagged or later: its content cannot change.</summary>
        Frozen,
        AlreadyApproved,
        EntryNotFound,
    }

    /// <summary>What the store did: applied or refused (and why), and the release as it is now.</summary>
    public sealed record ReleaseChange
    {
        public bool Applied => Refusal == ReleaseChangeRefusal.None;
        public ReleaseChangeRefusal Refusal { get; init; }
        /// <summary>The release after the change (or as it is, when refused); null when it does not exist.</summary>
        public ReleaseRecord? Release { get; init; }
        /// <summary>The transition written, when the change moved the state.</summary>
        public ReleaseTransitionRecord? Transition { get; init; }
        /// <summary>Approvals of the current revision, after an approval.</summary>
        public int Approvals { get; init; }
        /// <summary>For EntryNotFound: the service named.</summary>
        public string? Detail { get; init; }
    }

    /// <summary>Who holds a named lifecycle lease (the scanner's, or a stage's while it deploys).</summary>
    public sealed record LifecycleLease
    {
        public string Name { get; init; } = "";
        public string HolderId { get; init; } = "";
        public string HostName { get; init; } = "";
        public int ProcessId { get; init; }
        public DateTimeOffset AcquiredAt { get; init; }
        public DateTimeOffset ExpiresAt { get; init; }
    }

    public sealed record LifecycleLeaseClaim
    {
        public bool Acquired { get; init; }
        /// <summary>The holder now: this claim's when acquired, the other holder's when not.</summary>
        public LifecycleLease? Holder { get; init; }
    }
}
