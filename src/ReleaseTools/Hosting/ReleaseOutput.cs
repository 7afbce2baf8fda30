using System.Linq;
using ReleaseTools.Engine.Lifecycle;
using EngineLifecycle = ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Hosting
{
    /// <summary>Turns the lifecycle's records into the module's output objects (times in the local time zone).</summary>
    internal static class ReleaseOutput
    {
        public static Release ToOutput(ReleaseView view)
        {
            var release = view.Release;
            return new Release
            {
                ReleaseId = release.ReleaseId,
                Name = release.Name,
                Description = release.Description,
                State = (ReleaseState)(long)release.State,
                StateCode = (int)release.State,
                PreEnvironment = release.PreEnvironment,
                ProdEnvironment = release.ProdEnvironment,
                Revision = release.Revision,
                Frozen = release.State != EngineLifecycle.ReleaseState.PendingReview && release.State != EngineLifecycle.ReleaseState.Approved,
                CreatedBy = release.CreatedBy,
                CreatedAt = release.CreatedAt.ToLocalTime(),
                UpdatedAt = release.UpdatedAt.ToLocalTime(),
                Items = new ReleaseItemList(view.Entries.Select(e => new ReleaseItem
                {
                    ReleaseId = release.ReleaseId,
                    Service = e.Service,
                    Version = e.Version,
                    PackageUrl = e.PackageUrl,
                    Checksum = e.Checksum,
                    Config = e.ConfigKind.ToString(),
                    ConfigFileName = e.ConfigFileName,
                    FrozenConfigs = new ReleaseEventList(e.Snapshots.Select(s => $"{s.Environment}={s.Digest}")),
                })),
                History = new ReleaseHistoryList(view.Transitions.Select(t => new ReleaseHistoryEntry
                {
                    Sequence = t.Sequence,
                    ReleaseId = t.ReleaseId,
                    Event = t.Event,
                    From = t.From.HasValue ? (ReleaseState)(long)t.From.Value : (ReleaseState?)null,
                    To = (ReleaseState)(long)t.To,
                    Actor = t.Actor,
                    Comment = t.Comment,
                    RecordedAt = t.RecordedAt.ToLocalTime(),
                })),
                Approvals = new ReleaseApprovalList(view.Approvals.Select(a => new ReleaseApprovalEntry
                {
                    ReleaseId = a.ReleaseId,
                    Revision = a.Revision,
                    Approver = a.Approver,
                    Comment = a.Comment,
                    RecordedAt = a.RecordedAt.ToLocalTime(),
                })),
                Runs = new ReleaseRunList(view.Runs.Select(r => new ReleaseStageRun
                {
                    ReleaseId = r.ReleaseId,
                    Stage = (ReleaseStage)(long)r.Stage,
                    Service = r.Service,
                    Environment = r.Environment,
                    DeploymentId = r.DeploymentId,
                    Status = (ReleaseRunStatus)(long)r.Status,
                    Error = r.Error,
                    StartedAt = r.StartedAt.ToLocalTime(),
                    EndedAt = r.EndedAt?.ToLocalTime(),
                })),
                AvailableEvents = new ReleaseEventList(view.AvailableEvents.Select(ReleaseStateMachine.NameOf)),
            };
        }

        public static ReleasePolicy ToOutput(EngineLifecycle.ReleasePolicy policy, string store) => new ReleasePolicy
        {
            RequiredApprovals = policy.RequiredApprovals,
            AllowSelfApproval = policy.AllowSelfApproval,
            Approvers = new ReleaseEventList(policy.Approvers),
            Store = store,
        };
    }
}
