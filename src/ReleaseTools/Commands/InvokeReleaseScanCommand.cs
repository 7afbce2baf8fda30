using System;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// The lifecycle's automatic step: moves each tagged release into its pre-release deployment and runs it, and settles
    /// stages whose runner is gone. Once, or with -Continuous every -Interval seconds until Ctrl+C. At most one scanner acts
    /// at a time across machines (a lease in the store); another one waits its turn.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "ReleaseScan", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class InvokeReleaseScanCommand : ReleaseStageCommandBase
    {
        /// <summary>Scans again every -Interval seconds until stopped (Ctrl+C, or the runbook or service ending).</summary>
        [Parameter]
        public SwitchParameter Continuous { get; set; }

        /// <summary>Seconds between passes with -Continuous.</summary>
        [Parameter]
        [ValidateRange(0.05, 86400)]
        public double Interval { get; set; } = 30;

        protected override void EndProcessing()
        {
            if (IsWhatIf)
            {
                var tagged = Await(token => Session.Store.Lifecycle.FindReleasesAsync(new ReleaseQuery { States = new[] { Engine.Lifecycle.ReleaseState.Tagged }, Limit = 0 }, token));
                ShouldProcess(Session.StorePath, $"Scan for releases: {tagged.Count} tagged release(s) may start pre-release ({string.Join(", ", tagged.Select(r => r.ReleaseId))})");
                return;
            }

            if (!ShouldProcessUnlessForced(Force, Session.StorePath, "Scan for releases and deploy their pre-release stages"))
            {
                return;
            }

            var options = new ScanOptions { Stage = BuildStageOptions() };
            var scanner = new ReleaseScanner(Session.Lifecycle);
            do
            {
                var pass = RunStage("Release scan", (observer, token) => scanner.ScanOnceAsync(options, observer, token));
                Report(pass);
                if (!Continuous)
                {
                    break;
                }

                WriteVerbose($"Next scan in {Interval} s.");
                Await(async token =>
                {
                    await System.Threading.Tasks.Task.Delay(TimeSpan.FromSeconds(Interval), token).ConfigureAwait(false);
                    return true;
                });
            }
            while (true);
        }

        private void Report(ScanResult pass)
        {
            if (!pass.Acquired)
            {
                var holder = pass.Holder;
                var message = $"Another release scanner holds the store's scanner lease (process {holder?.ProcessId} on {holder?.HostName}, until {holder?.ExpiresAt.ToLocalTime():u}); this pass did nothing.";
                if (Continuous)
                {
                    WriteVerbose(message);
                }
                else
                {
                    WriteReportedWarning("ReleaseScannerBusy", message);
                }

                return;
            }

            WriteVerbose($"Scan: {pass.Stages.Count} stage(s) run or settled; {pass.InProgress.Count} release(s) deploying under another runner.");
            foreach (var stage in pass.Stages)
            {
                ReportStage(stage);
                WriteObject(ReleaseOutput.ToOutput(Await(token => Session.Lifecycle.GetViewAsync(stage.Release.ReleaseId, token))));
            }
        }
    }
}
