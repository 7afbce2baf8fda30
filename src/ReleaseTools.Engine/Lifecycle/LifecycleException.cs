using System;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>
    /// A lifecycle request was refused as a whole; nothing was written. ErrorId is one of <see cref="LifecycleErrorIds"/>,
    /// Target the release id (or the entry, policy or environment the error is about).
    /// </summary>
    public sealed class LifecycleException : Exception
    {
        public LifecycleException(string errorId, DeploymentErrorKind kind, string message, object? target = null, Exception? innerException = null)
            : base(message, innerException)
        {
            ErrorId = errorId;
            Kind = kind;
            Target = target;
        }

        public string ErrorId { get; }
        public DeploymentErrorKind Kind { get; }
        public object? Target { get; }

        internal static LifecycleException TransitionInvalid(string releaseId, ReleaseState state, ReleaseEvent releaseEvent) =>
            new LifecycleException(LifecycleErrorIds.ReleaseTransitionInvalid, DeploymentErrorKind.InvalidOperation,
                $"Release '{releaseId}' is {state}: {ReleaseStateMachine.NameOf(releaseEvent)} is not allowed there " +
                $"(only from {string.Join(", ", ReleaseStateMachine.SourcesOf(releaseEvent))}). Events allowed now: {ReleaseStateMachine.Describe(ReleaseStateMachine.AllowedEvents(state))}.",
                releaseId);

        internal static LifecycleException StateChanged(string releaseId, ReleaseState judged, ReleaseState now, ReleaseEvent releaseEvent) =>
            new LifecycleException(LifecycleErrorIds.ReleaseStateChanged, DeploymentErrorKind.ResourceBusy,
                $"Release '{releaseId}' moved from {judged} to {now} while {ReleaseStateMachine.NameOf(releaseEvent)} was being applied (someone else changed it first); " +
                $"nothing was changed. Events allowed now: {ReleaseStateMachine.Describe(ReleaseStateMachine.AllowedEvents(now))}.",
                releaseId);

        internal static LifecycleException NotFound(string releaseId, string store) =>
            new LifecycleException(LifecycleErrorIds.ReleaseNotFound, DeploymentErrorKind.ObjectNotFound,
                $"No release '{releaseId}' is recorded in the store '{store}'. List releases with Get-Release.", releaseId);
    }

    /// <summary>Stable error ids of the release lifecycle (FullyQualifiedErrorId of the cmdlets); never change a value.</summary>
    public static class LifecycleErrorIds
    {
        public const string ReleaseNotFound = nameof(ReleaseNotFound);
        /// <summary>The event is not allowed in the release's state; the message lists the events that are.</summary>
        public const string ReleaseTransitionInvalid = nameof(ReleaseTransitionInvalid);
        /// <summary>Someone else changed the release between reading and applying (the conditional update lost).</summary>
        public const string ReleaseStateChanged = nameof(ReleaseStateChanged);
        /// <summary>An edit of a tagged (or later) release: its content is frozen.</summary>
        public const string ReleaseFrozen = nameof(ReleaseFrozen);
        /// <summary>The creator approving their own release where the store's policy forbids it.</summary>
        public const string ReleaseSelfApprovalDenied = nameof(ReleaseSelfApprovalDenied);
        /// <summary>An approval by someone the store's policy does not list as an approver.</summary>
        public const string ReleaseApproverNotAllowed = nameof(ReleaseApproverNotAllowed);
        /// <summary>The same person approving the same content twice.</summary>
        public const string ReleaseAlreadyApproved = nameof(ReleaseAlreadyApproved);
        /// <summary>The release's content changed after the approver looked at it.</summary>
        public const string ReleaseContentChanged = nameof(ReleaseContentChanged);
        /// <summary>A service entry with a missing or invalid service, version, package or config.</summary>
        public const string ReleaseItemInvalid = nameof(ReleaseItemInvalid);
        /// <summary>A change of a service the release does not contain.</summary>
        public const string ReleaseItemNotFound = nameof(ReleaseItemNotFound);
        /// <summary>Tagging a release without any service entry.</summary>
        public const string ReleaseEmpty = nameof(ReleaseEmpty);
        /// <summary>A missing or invalid release name or environment.</summary>
        public const string ReleaseParameterInvalid = nameof(ReleaseParameterInvalid);
        /// <summary>Another scanner holds the store's scanner lease.</summary>
        public const string ReleaseScannerBusy = nameof(ReleaseScannerBusy);
        /// <summary>Wait-Release ran out of time before the release reached a wanted state.</summary>
        public const string ReleaseWaitTimeout = nameof(ReleaseWaitTimeout);
        /// <summary>The release can no longer reach the state waited for (it failed a stage, or ended elsewhere).</summary>
        public const string ReleaseWaitUnreachable = nameof(ReleaseWaitUnreachable);
        /// <summary>A stage of the release failed: at least one service deployment did not succeed.</summary>
        public const string ReleaseStageFailed = nameof(ReleaseStageFailed);
    }
}
