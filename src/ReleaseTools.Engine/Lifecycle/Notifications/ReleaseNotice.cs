using System;
using System.Collections.Generic;

namespace ReleaseTools.Engine.Lifecycle.Notifications
{
    /// <summary>
    /// One thing that happened to a release, as the webhooks are told it: a transition (event, from and to states with
    /// their names and numeric codes, who, why) and, for the completion or failure of a deployment stage, the stage's
    /// result. States and events are given as the lifecycle names them (for example "PendingReview" 0, "approve").
    /// </summary>
    public sealed record ReleaseNotice
    {
        /// <summary>Unique per notice, sent with every attempt so a receiver can drop a retry it already handled.</summary>
        public string NoticeId { get; init; } = Guid.NewGuid().ToString("N");
        public string ReleaseId { get; init; } = "";
        public string ReleaseTitle { get; init; } = "";
        /// <summary>The lifecycle event that fired, for example "approve" or "pre_deploy_failed".</summary>
        public string Event { get; init; } = "";
        public string FromState { get; init; } = "";
        public int FromStateCode { get; init; }
        public string ToState { get; init; } = "";
        public int ToStateCode { get; init; }
        /// <summary>Who fired the event (Build.RequestedFor in Azure Pipelines, else the OS user; the scanner names itself).</summary>
        public string Actor { get; init; } = "";
        public string? Comment { get; init; }
        public DateTimeOffset OccurredAt { get; init; } = DateTimeOffset.UtcNow;
        /// <summary>Set when the notice reports a deployment stage's result; null for other transitions.</summary>
        public ReleaseStageResult? Stage { get; init; }
    }

    /// <summary>The result of one deployment stage of a release (pre-release or production).</summary>
    public sealed record ReleaseStageResult
    {
        /// <summary>The stage as the lifecycle names it, for example "PreRelease" or "Production".</summary>
        public string Stage { get; init; } = "";
        public string Environment { get; init; } = "";
        /// <summary>The deployment runs of the stage (one per service entry), as recorded on the release.</summary>
        public IReadOnlyList<string> RunIds { get; init; } = Array.Empty<string>();
        public StageOutcome Outcome { get; init; }
        /// <summary>A short human summary, for example "2 of 3 services deployed; web failed at activate".</summary>
        public string? Summary { get; init; }
    }

    public enum StageOutcome
    {
        Succeeded,
        Failed,
    }
}
