using System;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Waits until each release reaches one of the given states, then writes it: a gate for pipelines. Fails at once when the
    /// release can no longer get there (it was rejected or cancelled, or a stage failed while waiting), and after -Timeout.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Wait, "Release")]
    [OutputType(typeof(Release))]
    public sealed class WaitReleaseCommand : ReleaseCommandBase
    {
        /// <summary>The states to wait for; the first one reached ends the wait.</summary>
        [Parameter(Mandatory = true)]
        public ReleaseState[] State { get; set; } = Array.Empty<ReleaseState>();

        /// <summary>How long to wait, in seconds.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int Timeout { get; set; } = 3600;

        /// <summary>How often the store is read, in seconds.</summary>
        [Parameter]
        [ValidateRange(0.05, 3600)]
        public double PollInterval { get; set; } = 5;

        protected override void ProcessRecord()
        {
            var states = State.Select(s => (Engine.Lifecycle.ReleaseState)(int)s).ToList();
            foreach (var id in ReleaseId)
            {
                WriteVerbose($"Waiting up to {Timeout} s for release {id} to become {string.Join(" or ", State)}.");
                if (TryLifecycle(token => Session.Lifecycle.WaitAsync(id, states, TimeSpan.FromSeconds(Timeout), TimeSpan.FromSeconds(PollInterval), token), out var view))
                {
                    WriteObject(ReleaseOutput.ToOutput(view));
                }
            }
        }
    }
}
