using System.Text;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>The release lifecycle part of the store contract, run against every store (see the sealed classes at the end).</summary>
public abstract class ReleaseLifecycleStoreContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private IStoreScope? _scope;

    private IStoreScope Scope => _scope ??= CreateScope();

    private ILifecycleStore Releases => Scope.Store.Lifecycle;

    protected abstract IStoreScope CreateScope();

    public void Dispose() => _scope?.Dispose();

    private static NewRelease Release(string name = "2026.12 payments") => new()
    {
        Name = name,
        Description = "card payments and the ledger",
        PreEnvironment = "staging",
        ProdEnvironment = "prod",
        CreatedBy = "alice",
        Comment = "first cut",
    };

    private static ReleaseEntry Entry(string service, string version = "2.0.0") => new()
    {
        Service = service,
        Version = version,
        PackageUrl = $"https://packages.example.test/{service}/{version}.zip",
        ConfigKind = ReleaseConfigKind.Template,
        ConfigContent = Encoding.UTF8.GetBytes("{ \"env\": \"{{Environment}}\", \"colour\": \"{{Colour}}\" }"),
        ConfigFileName = "appsettings.json",
        ConfigValues = new Dictionary<string, string> { ["Colour"] = "blue" },
    };

    private Task<ReleaseChange> Move(ReleaseRecord release, ReleaseState from, ReleaseState to, string eventName = "test", string actor = "bob") =>
        Releases.TransitionReleaseAsync(new ReleaseTransition { ReleaseId = release.ReleaseId, Event = eventName, From = from, To = to, Actor = actor }, None);

    [SkippableFact]
    public async Task A_new_release_is_pending_review_with_its_entries_and_a_creation_row_in_its_history()
    {
        var created = await Releases.CreateReleaseAsync(Release(), new[] { Entry("payments"), Entry("ledger", "1.4.0") }, None);

        Assert.StartsWith("r-", created.ReleaseId);
        var read = await Releases.GetReleaseAsync(created.ReleaseId, None);
        Assert.Equal(created, read);
        Assert.Equal((ReleaseState.PendingReview, 1, "alice", "staging", "prod"), (read!.State, read.Revision, read.CreatedBy, read.PreEnvironment, read.ProdEnvironment));

        var entries = await Releases.GetReleaseEntriesAsync(created.ReleaseId, None);
        Assert.Equal(new[] { "payments", "ledger" }, entries.Select(e => e.Service));
        Assert.Equal("blue", entries[0].ConfigValues["Colour"]);
        Assert.Equal(Entry("payments").ConfigContent, entries[0].ConfigContent);
        Assert.Equal((ReleaseConfigKind.Template, "appsettings.json", false), (entries[0].ConfigKind, entries[0].ConfigFileName, entries[0].AllowLocalPackage));

        var history = Assert.Single(await Releases.GetReleaseTransitionsAsync(created.ReleaseId, None));
        Assert.Equal(("create", (ReleaseState?)null, ReleaseState.PendingReview, "alice", "first cut"), (history.Event, history.From, history.To, history.Actor, history.Comment));
        Assert.Equal(Scope.Clock.Now, history.RecordedAt);
    }

    [SkippableFact]
    public async Task A_transition_applies_only_from_the_state_it_was_judged_in_and_records_who_when_and_why()
    {
        var release = await Releases.CreateReleaseAsync(Release(), new[] { Entry("payments") }, None);

        var wrong = await Move(release, ReleaseState.Approved, ReleaseState.Tagged);
        Assert.Equal(ReleaseChangeRefusal.StateChanged, wrong.Refusal);
        Assert.Equal(ReleaseState.PendingReview, wrong.Release!.State);

        Scope.Clock.Advance(TimeSpan.FromMinutes(3));
        var applied = await Releases.TransitionReleaseAsync(new ReleaseTransition
        {
            ReleaseId = release.ReleaseId, Event = "reject", From = ReleaseState.PendingReview, To = ReleaseState.Rejected, Actor = "carol", Comment = "  wrong ledger version ",
        }, None);

        Assert.True(applied.Applied);
        Assert.Equal(ReleaseState.Rejected, (await Releases.GetReleaseAsync(release.ReleaseId, None))!.State);
        var history = await Releases.GetReleaseTransitionsAsync(release.ReleaseId, None);
        Assert.Equal(2, history.Count);
        Assert.Equal(applied.Transition, history[1]);
        Assert.Equal(("reject", (ReleaseState?)ReleaseState.PendingReview, ReleaseState.Rejected, "carol", "wrong ledger version"),
            (history[1].Event, history[1].From, history[1].To, history[1].Actor, history[1].Comment));
        Assert.Equal(Scope.Clock.Now, history[1].RecordedAt);
    }

    [SkippableFact]
    public async Task Of_many_concurrent_transitions_from_one_state_exactly_one_wins_and_exactly_one_row_is_written()
    {
        var first = Scope.Store.Lifecycle;
        var second = Scope.Open().Lifecycle;
        for (var round = 0; round < 10; round++)
        {
            var release = await first.CreateReleaseAsync(Release($"round {round}"), new[] { Entry("payments") }, None);
            var attempts = Enumerable.Range(0, 6).Select(k => Task.Run(() => (k % 2 == 0 ? first : second).TransitionReleaseAsync(new ReleaseTransition
            {
                ReleaseId = release.ReleaseId,
                Event = k % 3 == 0 ? "reject" : "cancel",
                From = ReleaseState.PendingReview,
                To = k % 3 == 0 ? ReleaseState.Rejected : ReleaseState.Cancelled,
                Actor = $"user-{k}",
            }, None))).ToArray();

            var results = await Task.WhenAll(attempts);

            var winner = Assert.Single(results, r => r.Applied);
            Assert.All(results.Where(r => !r.Applied), loser => Assert.Equal(ReleaseChangeRefusal.StateChanged, loser.Refusal));
            Assert.Equal(winner.Transition!.To, (await second.GetReleaseAsync(release.ReleaseId, None))!.State);
            var history = await first.GetReleaseTransitionsAsync(release.ReleaseId, None);
            Assert.Equal(new[] { "create", winner.Transition.Event }, history.Select(h => h.Event));
        }
    }

    [SkippableFact]
    public async Task Approvals_count_distinct_people_on_one_revision_and_the_last_needed_one_approves_in_the_same_transaction()
    {
        var release = await Releases.CreateReleaseAsync(Release(), new[] { Entry("payments") }, None);

        var one = await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "bob", Revision = 1, RequiredApprovals = 2, Comment = "ok" }, None);
        Assert.True(one.Applied);
        Assert.Equal((1, ReleaseState.PendingReview), (one.Approvals, one.Release!.State));
        Assert.Null(one.Transition);

        var again = await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "BOB", Revision = 1, RequiredApprovals = 2 }, None);
        Assert.Equal(ReleaseChangeRefusal.AlreadyApproved, again.Refusal);

        var stale = await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "dave", Revision = 7, RequiredApprovals = 2 }, None);
        Assert.Equal(ReleaseChangeRefusal.RevisionChanged, stale.Refusal);

        var two = await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "carol", Revision = 1, RequiredApprovals = 2 }, None);
        Assert.Equal((2, ReleaseState.Approved, "approve", "carol"), (two.Approvals, two.Release!.State, two.Transition!.Event, two.Transition.Actor));
        Assert.Equal(ReleaseState.Approved, (await Releases.GetReleaseAsync(release.ReleaseId, None))!.State);
        Assert.Equal(new[] { "bob", "carol" }, (await Releases.GetReleaseApprovalsAsync(release.ReleaseId, None)).Select(a => a.Approver));
    }

    [SkippableFact]
    public async Task Two_approvals_at_once_on_two_store_objects_approve_once_and_lose_neither_approval()
    {
        var first = Scope.Store.Lifecycle;
        var second = Scope.Open().Lifecycle;
        for (var round = 0; round < 10; round++)
        {
            var release = await first.CreateReleaseAsync(Release($"round {round}"), new[] { Entry("payments") }, None);
            var results = await Task.WhenAll(
                Task.Run(() => first.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "bob", Revision = 1, RequiredApprovals = 2 }, None)),
                Task.Run(() => second.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "carol", Revision = 1, RequiredApprovals = 2 }, None)));

            Assert.All(results, r => Assert.True(r.Applied));
            Assert.Single(results, r => r.Transition != null);
            Assert.Equal(new[] { 1, 2 }, results.Select(r => r.Approvals).OrderBy(n => n));
            Assert.Equal(ReleaseState.Approved, (await second.GetReleaseAsync(release.ReleaseId, None))!.State);
            Assert.Equal(2, (await first.GetReleaseApprovalsAsync(release.ReleaseId, None)).Count);
            Assert.Single(await first.GetReleaseTransitionsAsync(release.ReleaseId, None), t => t.Event == "approve");
        }
    }

    [SkippableFact]
    public async Task Editing_an_approved_release_raises_its_revision_and_returns_it_to_review_in_one_transaction()
    {
        var release = await Releases.CreateReleaseAsync(Release(), new[] { Entry("payments"), Entry("ledger") }, None);
        await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "bob", Revision = 1 }, None);

        var edited = await Releases.EditReleaseAsync(new ReleaseEdit
        {
            ReleaseId = release.ReleaseId,
            Actor = "alice",
            Description = "payments only, ledger next week",
            Upserts = new[] { Entry("payments", "2.0.1") },
            RemoveServices = new[] { "LEDGER" },
        }, None);

        Assert.True(edited.Applied);
        Assert.Equal((ReleaseState.PendingReview, 2), (edited.Release!.State, edited.Release.Revision));
        Assert.Equal(("edit", (ReleaseState?)ReleaseState.Approved, ReleaseState.PendingReview, "alice"),
            (edited.Transition!.Event, edited.Transition.From, edited.Transition.To, edited.Transition.Actor));
        var read = await Releases.GetReleaseAsync(release.ReleaseId, None);
        Assert.Equal((ReleaseState.PendingReview, 2, "payments only, ledger next week"), (read!.State, read.Revision, read.Description));
        var entry = Assert.Single(await Releases.GetReleaseEntriesAsync(release.ReleaseId, None));
        Assert.Equal(("payments", "2.0.1"), (entry.Service, entry.Version));

        // The approval of revision 1 does not count for revision 2: one new approval is needed.
        var approved = await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "bob", Revision = 2 }, None);
        Assert.Equal((1, ReleaseState.Approved), (approved.Approvals, approved.Release!.State));
    }

    [SkippableFact]
    public async Task A_tagged_release_refuses_edits_and_keeps_its_frozen_checksums_and_configs()
    {
        var release = await Releases.CreateReleaseAsync(Release(), new[] { Entry("payments") }, None);
        await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "bob", Revision = 1 }, None);
        var tagged = await Releases.TransitionReleaseAsync(new ReleaseTransition
        {
            ReleaseId = release.ReleaseId, Event = "confirm_tag", From = ReleaseState.Approved, To = ReleaseState.Tagged, Actor = "alice", Revision = 1,
            Freeze = new[]
            {
                new FrozenEntry
                {
                    Service = "payments", Checksum = "0123456789abcdef0123456789abcdef",
                    Snapshots = new[]
                    {
                        new ReleaseConfigSnapshot { Environment = "staging", Digest = "d-staging", FileName = "appsettings.json" },
                        new ReleaseConfigSnapshot { Environment = "prod", Digest = "d-prod", FileName = "appsettings.json" },
                    },
                },
            },
        }, None);
        Assert.True(tagged.Applied);

        var refused = await Releases.EditReleaseAsync(new ReleaseEdit { ReleaseId = release.ReleaseId, Actor = "alice", Upserts = new[] { Entry("payments", "9.9.9") } }, None);

        Assert.Equal(ReleaseChangeRefusal.Frozen, refused.Refusal);
        var entry = Assert.Single(await Releases.GetReleaseEntriesAsync(release.ReleaseId, None));
        Assert.Equal(("2.0.0", "0123456789abcdef0123456789abcdef"), (entry.Version, entry.Checksum));
        Assert.Equal(new[] { ("prod", "d-prod"), ("staging", "d-staging") }, entry.Snapshots.Select(s => (s.Environment, s.Digest)));
        Assert.Equal((ReleaseState.Tagged, 1), ((await Releases.GetReleaseAsync(release.ReleaseId, None))!.State, (await Releases.GetReleaseAsync(release.ReleaseId, None))!.Revision));
    }

    [SkippableFact]
    public async Task A_tag_judged_on_an_older_revision_is_refused_and_freezes_nothing()
    {
        var release = await Releases.CreateReleaseAsync(Release(), new[] { Entry("payments") }, None);
        await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "bob", Revision = 1 }, None);
        await Releases.EditReleaseAsync(new ReleaseEdit { ReleaseId = release.ReleaseId, Actor = "alice", Upserts = new[] { Entry("payments", "2.0.1") } }, None);
        await Releases.ApproveReleaseAsync(new ReleaseApproval { ReleaseId = release.ReleaseId, Approver = "bob", Revision = 2 }, None);

        var refused = await Releases.TransitionReleaseAsync(new ReleaseTransition
        {
            ReleaseId = release.ReleaseId, Event = "confirm_tag", From = ReleaseState.Approved, To = ReleaseState.Tagged, Actor = "alice", Revision = 1,
            Freeze = new[] { new FrozenEntry { Service = "payments", Checksum = "0123456789abcdef0123456789abcdef" } },
        }, None);

        Assert.Equal(ReleaseChangeRefusal.RevisionChanged, refused.Refusal);
        Assert.Null(Assert.Single(await Releases.GetReleaseEntriesAsync(release.ReleaseId, None)).Checksum);
        Assert.Equal(ReleaseState.Approved, (await Releases.GetReleaseAsync(release.ReleaseId, None))!.State);
    }

    [SkippableFact]
    public async Task Removing_a_service_the_release_lacks_changes_nothing()
    {
        var release = await Releases.CreateReleaseAsync(Release(), new[] { Entry("payments") }, None);

        var refused = await Releases.EditReleaseAsync(new ReleaseEdit
        {
            ReleaseId = release.ReleaseId, Actor = "alice", Upserts = new[] { Entry("ledger") }, RemoveServices = new[] { "billing" },
        }, None);

        Assert.Equal((ReleaseChangeRefusal.EntryNotFound, "billing"), (refused.Refusal, refused.Detail));
        Assert.Equal(new[] { "payments" }, (await Releases.GetReleaseEntriesAsync(release.ReleaseId, None)).Select(e => e.Service));
        Assert.Equal(1, (await Releases.GetReleaseAsync(release.ReleaseId, None))!.Revision);
    }

    [SkippableFact]
    public async Task Releases_are_found_newest_first_by_state_and_unknown_ids_are_null()
    {
        var old = await Releases.CreateReleaseAsync(Release("old"), Array.Empty<ReleaseEntry>(), None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(1));
        var newer = await Releases.CreateReleaseAsync(Release("newer"), Array.Empty<ReleaseEntry>(), None);
        await Move(old, ReleaseState.PendingReview, ReleaseState.Cancelled);

        Assert.Equal(new[] { newer.ReleaseId, old.ReleaseId }, (await Releases.FindReleasesAsync(new ReleaseQuery(), None)).Select(r => r.ReleaseId));
        Assert.Equal(new[] { old.ReleaseId }, (await Releases.FindReleasesAsync(new ReleaseQuery { States = new[] { ReleaseState.Cancelled } }, None)).Select(r => r.ReleaseId));
        Assert.Equal(new[] { newer.ReleaseId }, (await Releases.FindReleasesAsync(new ReleaseQuery { Limit = 1 }, None)).Select(r => r.ReleaseId));
        Assert.Null(await Releases.GetReleaseAsync("r-missing", None));
        Assert.Equal(ReleaseChangeRefusal.NotFound, (await Releases.EditReleaseAsync(new ReleaseEdit { ReleaseId = "r-missing", Actor = "a" }, None)).Refusal);
    }

    [SkippableFact]
    public async Task Stage_runs_are_recorded_and_updated_in_order()
    {
        var release = await Releases.CreateReleaseAsync(Release(), new[] { Entry("payments") }, None);
        var started = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        var run = await Releases.AddReleaseRunAsync(new ReleaseRunRecord
        {
            ReleaseId = release.ReleaseId, TransitionSequence = 41, Stage = ReleaseStage.PreRelease, Service = "payments", Environment = "staging",
            Status = ReleaseRunStatus.Running, StartedAt = started,
        }, None);
        await Releases.UpdateReleaseRunAsync(run with { DeploymentId = "d-1", Status = ReleaseRunStatus.Failed, Error = "web-01 failed at activate", EndedAt = started.AddSeconds(9) }, None);
        await Releases.AddReleaseRunAsync(run with { TransitionSequence = 43, Stage = ReleaseStage.Production, Environment = "prod", DeploymentId = "d-2" }, None);

        var runs = await Releases.GetReleaseRunsAsync(release.ReleaseId, None);

        Assert.Equal(2, runs.Count);
        Assert.True(runs[0].Sequence < runs[1].Sequence);
        Assert.Equal(new long[] { 41, 43 }, runs.Select(r => r.TransitionSequence));
        Assert.Equal((ReleaseStage.PreRelease, "d-1", ReleaseRunStatus.Failed, "web-01 failed at activate", (DateTimeOffset?)started.AddSeconds(9)),
            (runs[0].Stage, runs[0].DeploymentId, runs[0].Status, runs[0].Error, runs[0].EndedAt));
        Assert.Equal((ReleaseStage.Production, "d-2", ReleaseRunStatus.Running, (DateTimeOffset?)null), (runs[1].Stage, runs[1].DeploymentId, runs[1].Status, runs[1].EndedAt));
    }

    [SkippableFact]
    public async Task The_approval_policy_defaults_to_one_approval_by_anyone_and_keeps_what_is_set()
    {
        Assert.Equal((1, true, 0), ((await Releases.GetReleasePolicyAsync(None)).RequiredApprovals, (await Releases.GetReleasePolicyAsync(None)).AllowSelfApproval,
            (await Releases.GetReleasePolicyAsync(None)).Approvers.Count));

        await Releases.SetReleasePolicyAsync(new ReleasePolicy { RequiredApprovals = 2, AllowSelfApproval = false, Approvers = new[] { "bob", "carol" } }, None);

        var policy = await Scope.Open().Lifecycle.GetReleasePolicyAsync(None);
        Assert.Equal((2, false), (policy.RequiredApprovals, policy.AllowSelfApproval));
        Assert.Equal(new[] { "bob", "carol" }, policy.Approvers);
    }

    [SkippableFact]
    public async Task Of_concurrent_lease_claimers_exactly_one_wins_until_it_releases_or_its_lease_expires()
    {
        var first = Scope.Store.Lifecycle;
        var second = Scope.Open().Lifecycle;
        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(k =>
            Task.Run(() => (k % 2 == 0 ? first : second).TryClaimLifecycleLeaseAsync("scanner", $"scanner-{k}", TimeSpan.FromMinutes(1), None))));

        var winner = Assert.Single(claims, c => c.Acquired);
        Assert.All(claims.Where(c => !c.Acquired), loser => Assert.Equal(winner.Holder!.HolderId, loser.Holder!.HolderId));
        var holder = winner.Holder!.HolderId;
        var other = holder == "scanner-0" ? "scanner-1" : "scanner-0";

        Assert.True((await first.TryClaimLifecycleLeaseAsync("scanner", holder, TimeSpan.FromMinutes(1), None)).Acquired);
        Assert.False((await first.TryClaimLifecycleLeaseAsync("scanner", other, TimeSpan.FromMinutes(1), None)).Acquired);
        Assert.True((await first.TryClaimLifecycleLeaseAsync("another-lease", other, TimeSpan.FromMinutes(1), None)).Acquired);

        Scope.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.True((await second.TryClaimLifecycleLeaseAsync("scanner", other, TimeSpan.FromMinutes(1), None)).Acquired);
        await second.ReleaseLifecycleLeaseAsync("scanner", holder, None);
        Assert.Equal(other, (await first.GetLifecycleLeaseAsync("scanner", None))!.HolderId);
        await second.ReleaseLifecycleLeaseAsync("scanner", other, None);
        Assert.Null(await first.GetLifecycleLeaseAsync("scanner", None));
    }
}

public sealed class SqliteReleaseLifecycleStoreTests : ReleaseLifecycleStoreContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresReleaseLifecycleStoreTests : ReleaseLifecycleStoreContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}
