using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Lifecycle.Notifications;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>A release with everything recorded about it, and what may happen to it next.</summary>
    public sealed record ReleaseView
    {
        public ReleaseRecord Release { get; init; } = new ReleaseRecord();
        public IReadOnlyList<ReleaseEntry> Entries { get; init; } = Array.Empty<ReleaseEntry>();
        public IReadOnlyList<ReleaseTransitionRecord> Transitions { get; init; } = Array.Empty<ReleaseTransitionRecord>();
        public IReadOnlyList<ReleaseApprovalRecord> Approvals { get; init; } = Array.Empty<ReleaseApprovalRecord>();
        public IReadOnlyList<ReleaseRunRecord> Runs { get; init; } = Array.Empty<ReleaseRunRecord>();
        public IReadOnlyList<ReleaseEvent> AvailableEvents { get; init; } = Array.Empty<ReleaseEvent>();
    }

    /// <summary>What a lifecycle request did: the change, and the webhooks that could not be told (each a warning, never a failure).</summary>
    public sealed record LifecycleResult
    {
        public ReleaseChange Change { get; init; } = new ReleaseChange();
        public IReadOnlyList<WebhookDeliveryResult> NotificationFailures { get; init; } = Array.Empty<WebhookDeliveryResult>();
    }

    /// <summary>
    /// Creates, edits, approves, tags and moves releases through <see cref="ReleaseStateMachine"/>: each request is judged
    /// against the release as read, applied by the store only while the release is still as judged, and announced to the
    /// notifier after it is committed. Stage deployments are <see cref="Stages.StageRunner"/>'s; the scanner drives both.
    /// </summary>
    public sealed class ReleaseLifecycle
    {
        private readonly IReleaseStore _store;
        private readonly DeploymentEngine _engine;
        private readonly IReleaseNotifier _notifier;

        public ReleaseLifecycle(DeploymentEngine engine, IReleaseNotifier? notifier)
        {
            _engine = engine ?? throw new ArgumentNullException(nameof(engine));
            _store = engine.Store;
            _notifier = notifier ?? NoReleaseNotifier.Instance;
        }

        private ILifecycleStore Releases => _store.Lifecycle;

        public DeploymentEngine Engine => _engine;

        public IReleaseNotifier Notifier => _notifier;

        // Reading -------------------------------------------------------------------------------------------------------

        public async Task<ReleaseRecord> RequireAsync(string releaseId, CancellationToken cancellationToken) =>
            await Releases.GetReleaseAsync(releaseId, cancellationToken).ConfigureAwait(false) ?? throw LifecycleException.NotFound(releaseId, _store.Location);

        public async Task<ReleaseView> GetViewAsync(ReleaseRecord release, CancellationToken cancellationToken) => new ReleaseView
        {
            Release = release,
            Entries = await Releases.GetReleaseEntriesAsync(release.ReleaseId, cancellationToken).ConfigureAwait(false),
            Transitions = await Releases.GetReleaseTransitionsAsync(release.ReleaseId, cancellationToken).ConfigureAwait(false),
            Approvals = await Releases.GetReleaseApprovalsAsync(release.ReleaseId, cancellationToken).ConfigureAwait(false),
            Runs = await Releases.GetReleaseRunsAsync(release.ReleaseId, cancellationToken).ConfigureAwait(false),
            AvailableEvents = ReleaseStateMachine.AllowedEvents(release.State),
        };

        public async Task<ReleaseView> GetViewAsync(string releaseId, CancellationToken cancellationToken) =>
            await GetViewAsync(await RequireAsync(releaseId, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

        /// <summary>
        /// Polls the release until it is in one of <paramref name="states"/>. Fails fast (ReleaseWaitUnreachable) when none of
        /// them can be reached any more, or a stage failed while waiting and the state it returned to is not wanted; fails
        /// with ReleaseWaitTimeout after <paramref name="timeout"/>.
        /// </summary>
        public async Task<ReleaseView> WaitAsync(string releaseId, IReadOnlyCollection<ReleaseState> states, TimeSpan timeout, TimeSpan pollInterval,
            CancellationToken cancellationToken)
        {
            var deadline = DateTimeOffset.UtcNow + timeout;
            long? seen = null;
            while (true)
            {
                var view = await GetViewAsync(releaseId, cancellationToken).ConfigureAwait(false);
                var state = view.Release.State;
                if (states.Contains(state))
                {
                    return view;
                }

                var wanted = string.Join(", ", states);
                var failure = view.Transitions.LastOrDefault(t => seen.HasValue && t.Sequence > seen.Value &&
                    (t.Event == ReleaseStateMachine.NameOf(ReleaseEvent.PreDeployFailed) || t.Event == ReleaseStateMachine.NameOf(ReleaseEvent.ProdDeployFailed)));
                if (failure != null || !states.Any(s => ReleaseStateMachine.CanReach(state, s)))
                {
                    throw new LifecycleException(LifecycleErrorIds.ReleaseWaitUnreachable, DeploymentErrorKind.InvalidOperation,
                        failure != null
                            ? $"Release '{releaseId}' failed a stage while waiting for {wanted} ({failure.Event}: {failure.Comment}); it is {state} now."
                            : $"Release '{releaseId}' is {state} and can no longer become {wanted}. Events allowed now: {ReleaseStateMachine.Describe(view.AvailableEvents)}.",
                        releaseId);
                }

                seen ??= view.Transitions.Count == 0 ? 0 : view.Transitions[view.Transitions.Count - 1].Sequence;
                var left = deadline - DateTimeOffset.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    throw new LifecycleException(LifecycleErrorIds.ReleaseWaitTimeout, DeploymentErrorKind.OperationStopped,
                        $"Release '{releaseId}' did not become {wanted} within {timeout.TotalSeconds:0.###} s; it is {state}.", releaseId);
                }

                await Task.Delay(left < pollInterval ? left : pollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        // Content -------------------------------------------------------------------------------------------------------

        public async Task<LifecycleResult> CreateAsync(NewRelease release, IReadOnlyList<ReleaseEntry> entries, CancellationToken cancellationToken)
        {
            ReleaseRules.ValidateRelease(release);
            var valid = ReleaseRules.ValidateEntries(entries ?? Array.Empty<ReleaseEntry>());
            var record = await Releases.CreateReleaseAsync(release, valid, cancellationToken).ConfigureAwait(false);
            var transition = (await Releases.GetReleaseTransitionsAsync(record.ReleaseId, cancellationToken).ConfigureAwait(false)).FirstOrDefault();
            var change = new ReleaseChange { Release = record, Transition = transition };
            return await AnnounceAsync(change, null, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Changes the content before tagging; an approved release returns to review. A tagged one is refused (ReleaseFrozen).</summary>
        public async Task<LifecycleResult> EditAsync(ReleaseEdit edit, CancellationToken cancellationToken)
        {
            if (edit == null)
            {
                throw new ArgumentNullException(nameof(edit));
            }

            ReleaseRules.ValidateEdit(edit);
            var valid = edit with { Upserts = ReleaseRules.ValidateEntries(edit.Upserts) };
            var change = await Releases.EditReleaseAsync(valid, cancellationToken).ConfigureAwait(false);
            if (!change.Applied)
            {
                throw Refused(edit.ReleaseId, change, null);
            }

            return await AnnounceAsync(change, null, cancellationToken).ConfigureAwait(false);
        }

        // Events -----------------------------------------------------------------------------------------------------------

        /// <summary>
        /// One approval under the store's policy (who may approve, whether the creator may, how many approvals it takes).
        /// The release becomes Approved when the last approval needed is recorded.
        /// </summary>
        public async Task<LifecycleResult> ApproveAsync(string releaseId, string approver, string? comment, CancellationToken cancellationToken)
        {
            var release = await RequireAsync(releaseId, cancellationToken).ConfigureAwait(false);
            ReleaseStateMachine.Require(releaseId, release.State, ReleaseEvent.Approve);
            var policy = await Releases.GetReleasePolicyAsync(cancellationToken).ConfigureAwait(false);
            ReleaseRules.CheckApprover(release, approver, policy);
            var change = await Releases.ApproveReleaseAsync(new ReleaseApproval
            {
                ReleaseId = releaseId,
                Approver = approver,
                Comment = comment,
                Revision = release.Revision,
                RequiredApprovals = policy.RequiredApprovals,
            }, cancellationToken).ConfigureAwait(false);
            if (!change.Applied)
            {
                throw Refused(releaseId, change, ReleaseEvent.Approve, release.State, approver);
            }

            return await AnnounceAsync(change, null, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Fires reject, cancel or final_accept (approve and confirm_tag have their own methods, which check more; the stage
        /// events belong to the stage runner, which deploys).
        /// </summary>
        public async Task<LifecycleResult> FireAsync(string releaseId, ReleaseEvent releaseEvent, string actor, string? comment, CancellationToken cancellationToken)
        {
            switch (releaseEvent)
            {
                case ReleaseEvent.Approve:
                    return await ApproveAsync(releaseId, actor, comment, cancellationToken).ConfigureAwait(false);
                case ReleaseEvent.ConfirmTag:
                    return await TagAsync(releaseId, actor, comment, cancellationToken).ConfigureAwait(false);
                case ReleaseEvent.Reject:
                case ReleaseEvent.Cancel:
                case ReleaseEvent.FinalAccept:
                    var release = await RequireAsync(releaseId, cancellationToken).ConfigureAwait(false);
                    return await TransitionAsync(release, releaseEvent, actor, comment, null, null, cancellationToken).ConfigureAwait(false);
                default:
                    throw new LifecycleException(LifecycleErrorIds.ReleaseParameterInvalid, DeploymentErrorKind.InvalidArgument,
                        $"{ReleaseStateMachine.NameOf(releaseEvent)} is fired by a stage deployment (Start-ReleaseStage, Invoke-ReleaseScan), not on its own.", releaseId);
            }
        }

        /// <summary>
        /// confirm_tag: freezes each entry's package checksum (acquiring the package to compute it when none was given) and
        /// its config rendered for both environments, then moves Approved → Tagged, only if the content is still the one approved.
        /// </summary>
        public async Task<LifecycleResult> TagAsync(string releaseId, string actor, string? comment, CancellationToken cancellationToken)
        {
            var release = await RequireAsync(releaseId, cancellationToken).ConfigureAwait(false);
            ReleaseStateMachine.Require(releaseId, release.State, ReleaseEvent.ConfirmTag);
            var entries = await Releases.GetReleaseEntriesAsync(releaseId, cancellationToken).ConfigureAwait(false);
            if (entries.Count == 0)
            {
                throw new LifecycleException(LifecycleErrorIds.ReleaseEmpty, DeploymentErrorKind.InvalidOperation,
                    $"Release '{releaseId}' has no service entries to freeze. Add one with Add-ReleaseItem (the release then needs approval again).", releaseId);
            }

            var frozen = new List<FrozenEntry>();
            foreach (var entry in entries)
            {
                var checksum = entry.Checksum ?? await _engine.ChecksumPackageAsync(entry.PackageUrl, entry.AllowLocalPackage, null, cancellationToken).ConfigureAwait(false);
                var snapshots = new List<ReleaseConfigSnapshot>();
                foreach (var environment in new[] { release.PreEnvironment, release.ProdEnvironment })
                {
                    var config = await _engine.RenderConfigAsync(ConfigOf(releaseId, entry), entry.Service, environment, entry.Version, cancellationToken).ConfigureAwait(false);
                    // Content-addressed and idempotent: kept even if the tag below loses a race, which costs nothing.
                    await _store.SaveConfigSnapshotAsync(config.Digest, config.FileName, config.Content, cancellationToken).ConfigureAwait(false);
                    snapshots.Add(new ReleaseConfigSnapshot { Environment = environment, Digest = config.Digest, FileName = config.FileName });
                }

                frozen.Add(new FrozenEntry { Service = entry.Service, Checksum = checksum, Snapshots = snapshots });
            }

            return await TransitionAsync(release, ReleaseEvent.ConfirmTag, actor, comment, release.Revision, frozen, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Applies one event from the state the release was read in, announcing it with the stage result when there is one.</summary>
        internal async Task<LifecycleResult> TransitionAsync(ReleaseRecord release, ReleaseEvent releaseEvent, string actor, string? comment, int? revision,
            IReadOnlyList<FrozenEntry>? freeze, CancellationToken cancellationToken, ReleaseStageResult? stage = null)
        {
            var to = ReleaseStateMachine.Require(release.ReleaseId, release.State, releaseEvent);
            var change = await Releases.TransitionReleaseAsync(new ReleaseTransition
            {
                ReleaseId = release.ReleaseId,
                Event = ReleaseStateMachine.NameOf(releaseEvent),
                From = release.State,
                To = to,
                Actor = actor,
                Comment = comment,
                Revision = revision,
                Freeze = freeze,
            }, cancellationToken).ConfigureAwait(false);
            if (!change.Applied)
            {
                throw Refused(release.ReleaseId, change, releaseEvent, release.State);
            }

            return await AnnounceAsync(change, stage, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>The config source an entry deploys from before it is frozen (a template or file kept in the store, or none).</summary>
        internal static ConfigSource ConfigOf(string releaseId, ReleaseEntry entry) => entry.ConfigKind switch
        {
            ReleaseConfigKind.Template => new ConfigSource
            {
                TemplateContent = entry.ConfigContent,
                FileName = entry.ConfigFileName,
                Values = entry.ConfigValues,
                ContentOrigin = $"the config template of {entry.Service} in release {releaseId}",
            },
            ReleaseConfigKind.File => new ConfigSource
            {
                ReadyContent = entry.ConfigContent,
                FileName = entry.ConfigFileName,
                ContentOrigin = $"the config file of {entry.Service} in release {releaseId}",
            },
            _ => new ConfigSource(),
        };

        /// <summary>Tells the notifier what was committed; its failures come back as warnings and never undo the change.</summary>
        internal async Task<LifecycleResult> AnnounceAsync(ReleaseChange change, ReleaseStageResult? stage, CancellationToken cancellationToken)
        {
            if (change.Transition == null || change.Release == null)
            {
                return new LifecycleResult { Change = change };
            }

            var transition = change.Transition;
            var notice = new ReleaseNotice
            {
                ReleaseId = change.Release.ReleaseId,
                ReleaseTitle = change.Release.Name,
                Event = transition.Event,
                FromState = transition.From?.ToString() ?? "",
                FromStateCode = transition.From.HasValue ? (int)transition.From.Value : -1,
                ToState = transition.To.ToString(),
                ToStateCode = (int)transition.To,
                Actor = transition.Actor,
                Comment = transition.Comment,
                OccurredAt = transition.RecordedAt,
                Stage = stage,
            };
            NotificationReport report;
            try
            {
                // The transition is committed; a notifier must not hold it back, even one that breaks its promise not to throw.
                report = await _notifier.NotifyAsync(notice, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (!(exception is OperationCanceledException))
            {
                report = new NotificationReport
                {
                    Deliveries = new[] { new WebhookDeliveryResult { Webhook = "(notifier)", Delivered = false, Error = exception.Message } },
                };
            }

            return new LifecycleResult { Change = change, NotificationFailures = report.Failures };
        }

        private Exception Refused(string releaseId, ReleaseChange change, ReleaseEvent? releaseEvent, ReleaseState? judged = null, string? actor = null)
        {
            var now = change.Release?.State;
            switch (change.Refusal)
            {
                case ReleaseChangeRefusal.NotFound:
                    return LifecycleException.NotFound(releaseId, _store.Location);
                case ReleaseChangeRefusal.Frozen:
                    return new LifecycleException(LifecycleErrorIds.ReleaseFrozen, DeploymentErrorKind.InvalidOperation,
                        $"Release '{releaseId}' is {now}: its content was frozen when it was tagged (package checksums and configs are locked) and cannot change. " +
                        $"Create a new release for other content. Events allowed now: {ReleaseStateMachine.Describe(ReleaseStateMachine.AllowedEvents(now ?? ReleaseState.Tagged))}.",
                        releaseId);
                case ReleaseChangeRefusal.EntryNotFound:
                    return new LifecycleException(LifecycleErrorIds.ReleaseItemNotFound, DeploymentErrorKind.ObjectNotFound,
                        $"Release '{releaseId}' has no entry for service '{change.Detail}'; nothing was changed. Get-Release -ReleaseId {releaseId} lists its entries.", change.Detail);
                case ReleaseChangeRefusal.AlreadyApproved:
                    return new LifecycleException(LifecycleErrorIds.ReleaseAlreadyApproved, DeploymentErrorKind.InvalidOperation,
                        $"{actor} already approved release '{releaseId}' as it is now (revision {change.Release?.Revision}); an approval counts once per person.", releaseId);
                case ReleaseChangeRefusal.RevisionChanged:
                    return new LifecycleException(LifecycleErrorIds.ReleaseContentChanged, DeploymentErrorKind.ResourceBusy,
                        $"Release '{releaseId}' changed (now revision {change.Release?.Revision}) while the request was being applied; nothing was changed. Review it again with Get-Release.",
                        releaseId);
                default:
                    return releaseEvent.HasValue && judged.HasValue && now.HasValue
                        ? LifecycleException.StateChanged(releaseId, judged.Value, now.Value, releaseEvent.Value)
                        : new LifecycleException(LifecycleErrorIds.ReleaseStateChanged, DeploymentErrorKind.ResourceBusy,
                            $"Release '{releaseId}' changed while the request was being applied; nothing was changed.", releaseId);
            }
        }
    }
}
