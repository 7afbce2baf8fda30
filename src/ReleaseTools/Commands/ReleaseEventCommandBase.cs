using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Commands
{
    /// <summary>The cmdlets that fire one lifecycle event on each release given: -Comment, -Force, -PassThru and the confirmation.</summary>
    public abstract class ReleaseEventCommandBase : ReleaseCommandBase
    {
        /// <summary>Why, recorded with the transition (and sent to the webhooks).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Comment { get; set; }

        /// <summary>Skips the confirmation prompt.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Writes each release, as it is afterwards, to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>The operation as the confirmation prompt names it.</summary>
        private protected abstract string Action { get; }

        private protected abstract Task<LifecycleResult> FireAsync(string releaseId, string actor, CancellationToken cancellationToken);

        protected override void ProcessRecord() => FireOnEach(Action, Force, PassThru, (id, token) => FireAsync(id, Actor, token));
    }
}
