using System;
using System.Management.Automation;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Shared by the release cmdlets that act on releases piped in by id: -ReleaseId (by property name, so Release objects
    /// bind), who is acting, writing the release as it now is, and the webhook warnings of a transition.
    /// </summary>
    public abstract class ReleaseCommandBase : ReleaseToolsCmdlet
    {
        /// <summary>The releases to act on; Release objects (New-Release, Get-Release) bind by property name.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ReleaseId { get; set; } = Array.Empty<string>();

        /// <summary>The person acting, as recorded: Build.RequestedFor under Azure Pipelines, else the OS user.</summary>
        private protected static string Actor => ReleaseIdentity.Current();

        /// <summary>Writes the release as the store holds it now.</summary>
        private protected void WriteRelease(string releaseId)
        {
            if (TryLifecycle(token => Session.Lifecycle.GetViewAsync(releaseId, token), out var view))
            {
                WriteObject(ReleaseOutput.ToOutput(view));
            }
        }

        /// <summary>Webhooks that could not be told are warnings: the transition is committed whatever they answer.</summary>
        private protected void WarnUndelivered(LifecycleResult result)
        {
            foreach (var failure in result.NotificationFailures)
            {
                WriteReportedWarning("ReleaseNotificationFailed",
                    $"Webhook '{failure.Webhook}' was not told of {result.Change.Transition?.Event} on release {result.Change.Release?.ReleaseId} " +
                    $"after {failure.Attempts} attempt(s){(failure.LastStatusCode is int code ? $" (last answer HTTP {code})" : "")}: {failure.Error}");
            }
        }

        /// <summary>Judges and fires one event on each release, asking first; writes it afterwards with -PassThru.</summary>
        private protected void FireOnEach(string action, bool force, bool passThru, Func<string, System.Threading.CancellationToken, System.Threading.Tasks.Task<LifecycleResult>> fire)
        {
            foreach (var id in ReleaseId)
            {
                if (!TryLifecycle(token => Session.Lifecycle.RequireAsync(id, token), out var release))
                {
                    continue;
                }

                if (!ShouldProcessUnlessForced(force, $"{id} ({release.Name}, {release.State})", action))
                {
                    continue;
                }

                if (!TryLifecycle(token => fire(id, token), out var result))
                {
                    continue;
                }

                WriteVerbose(result.Change.Transition is { } transition
                    ? $"Release {id}: {transition.Event} {transition.From} -> {transition.To} by {transition.Actor}."
                    : $"Release {id}: recorded; it is {result.Change.Release?.State}.");
                WarnUndelivered(result);
                if (passThru)
                {
                    WriteRelease(id);
                }
            }
        }
    }
}
