using System;
using System.Collections.Generic;

namespace ReleaseTools
{
    /// <summary>
    /// Where a release stands. The numbers are the lifecycle's state codes (also in <see cref="Release.StateCode"/>); based
    /// on long so ConvertTo-Json writes the name, as for the module's other states.
    /// </summary>
    public enum ReleaseState : long
    {
        PendingReview = 0,
        Approved = 5,
        Rejected = 6,
        /// <summary>Frozen: package checksums and each environment's config are locked.</summary>
        Tagged = 11,
        PreDeploying = 21,
        PreDeployed = 22,
        ProdDeploying = 31,
        ProdDeployed = 32,
        Accepted = 40,
        Cancelled = 90,
    }

    /// <summary>The two deployment stages of a release.</summary>
    public enum ReleaseStage : long
    {
        PreRelease,
        Production,
    }

    /// <summary>How one service's deployment in one stage went.</summary>
    public enum ReleaseRunStatus : long
    {
        Running,
        Succeeded,
        Failed,
    }

    /// <summary>A release: its state, service entries, transition history, approvals, stage runs and the events allowed now.</summary>
    public sealed class Release
    {
        public string ReleaseId { get; set; } = "";
        public string Name { get; set; } = "";
        public string? Description { get; set; }
        public ReleaseState State { get; set; }
        /// <summary>The state's numeric code (PendingReview 0 ... Cancelled 90), as other systems following this lifecycle exchange it.</summary>
        public int StateCode { get; set; }
        public string PreEnvironment { get; set; } = "";
        public string ProdEnvironment { get; set; } = "";
        /// <summary>Raised by every content edit; approvals count for the revision they were given on.</summary>
        public int Revision { get; set; }
        /// <summary>True once tagged: entries can no longer change.</summary>
        public bool Frozen { get; set; }
        public string CreatedBy { get; set; } = "";
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
        public ReleaseItemList Items { get; set; } = new ReleaseItemList(Array.Empty<ReleaseItem>());
        public ReleaseHistoryList History { get; set; } = new ReleaseHistoryList(Array.Empty<ReleaseHistoryEntry>());
        public ReleaseApprovalList Approvals { get; set; } = new ReleaseApprovalList(Array.Empty<ReleaseApprovalEntry>());
        public ReleaseRunList Runs { get; set; } = new ReleaseRunList(Array.Empty<ReleaseStageRun>());
        /// <summary>The events the state machine allows now (approve, reject, cancel, confirm_tag...).</summary>
        public ReleaseEventList AvailableEvents { get; set; } = new ReleaseEventList(Array.Empty<string>());

        public override string ToString() => ReleaseId;
    }

    /// <summary>One service of a release.</summary>
    public sealed class ReleaseItem
    {
        public string ReleaseId { get; set; } = "";
        public string Service { get; set; } = "";
        public string Version { get; set; } = "";
        public string PackageUrl { get; set; } = "";
        /// <summary>The package's MD5: as given, or computed when the release was tagged.</summary>
        public string? Checksum { get; set; }
        /// <summary>None, Template or File.</summary>
        public string Config { get; set; } = "None";
        public string? ConfigFileName { get; set; }
        /// <summary>After tagging: environment=digest of the config frozen for each environment.</summary>
        public ReleaseEventList FrozenConfigs { get; set; } = new ReleaseEventList(Array.Empty<string>());

        public override string ToString() => Service + " " + Version;
    }

    /// <summary>One recorded state change of a release.</summary>
    public sealed class ReleaseHistoryEntry
    {
        public long Sequence { get; set; }
        public string ReleaseId { get; set; } = "";
        /// <summary>approve, reject, cancel, confirm_tag, start_pre_deploy... (create and edit for creation and a return to review by an edit).</summary>
        public string Event { get; set; } = "";
        /// <summary>Null for the creation row.</summary>
        public ReleaseState? From { get; set; }
        public ReleaseState To { get; set; }
        public string Actor { get; set; } = "";
        public string? Comment { get; set; }
        public DateTimeOffset RecordedAt { get; set; }

        public override string ToString() => $"{Event} {From?.ToString() ?? "-"}->{To} by {Actor}";
    }

    public sealed class ReleaseApprovalEntry
    {
        public string ReleaseId { get; set; } = "";
        public int Revision { get; set; }
        public string Approver { get; set; } = "";
        public string? Comment { get; set; }
        public DateTimeOffset RecordedAt { get; set; }

        public override string ToString() => $"{Approver} (revision {Revision})";
    }

    /// <summary>One service's deployment run in one stage of a release; DeploymentId binds to Get-ReleaseDeployment.</summary>
    public sealed class ReleaseStageRun
    {
        public string ReleaseId { get; set; } = "";
        public ReleaseStage Stage { get; set; }
        public string Service { get; set; } = "";
        public string Environment { get; set; } = "";
        public string? DeploymentId { get; set; }
        public ReleaseRunStatus Status { get; set; }
        public string? Error { get; set; }
        public DateTimeOffset StartedAt { get; set; }
        public DateTimeOffset? EndedAt { get; set; }

        public override string ToString() => $"{Stage} {Service} {Status}";
    }

    /// <summary>The store's approval rules.</summary>
    public sealed class ReleasePolicy
    {
        public int RequiredApprovals { get; set; }
        public bool AllowSelfApproval { get; set; }
        public ReleaseEventList Approvers { get; set; } = new ReleaseEventList(Array.Empty<string>());
        public string Store { get; set; } = "";
    }

    public sealed class ReleaseItemList : OutputList<ReleaseItem>
    {
        public ReleaseItemList(IEnumerable<ReleaseItem> items)
            : base(items, "; ")
        {
        }
    }

    public sealed class ReleaseHistoryList : OutputList<ReleaseHistoryEntry>
    {
        public ReleaseHistoryList(IEnumerable<ReleaseHistoryEntry> items)
            : base(items, "; ")
        {
        }
    }

    public sealed class ReleaseApprovalList : OutputList<ReleaseApprovalEntry>
    {
        public ReleaseApprovalList(IEnumerable<ReleaseApprovalEntry> items)
            : base(items, "; ")
        {
        }
    }

    public sealed class ReleaseRunList : OutputList<ReleaseStageRun>
    {
        public ReleaseRunList(IEnumerable<ReleaseStageRun> items)
            : base(items, "; ")
        {
        }
    }

    /// <summary>Names (events, approvers, frozen configs); in CSV "approve; reject; cancel".</summary>
    public sealed class ReleaseEventList : OutputList<string>
    {
        public ReleaseEventList(IEnumerable<string> items)
            : base(items, "; ")
        {
        }
    }
}
