using System;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Lists recorded deployment and rollback runs, newest first, with their per-batch and per-instance state.</summary>
    [Cmdlet(VerbsCommon.Get, "ReleaseDeployment", DefaultParameterSetName = ListSet)]
    [OutputType(typeof(ReleaseDeployment))]
    public sealed class GetReleaseDeploymentCommand : ReleaseToolsCmdlet
    {
        public const string ListSet = "List";
        public const string ByIdSet = "ById";

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByIdSet, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(DeploymentIdCompleter))]
        [ValidateNotNullOrEmpty]
        public string[] DeploymentId { get; set; } = Array.Empty<string>();

        /// <summary>Only runs that deployed to one of these services (wildcards allowed).</summary>
        [Parameter(ParameterSetName = ListSet)]
        [ArgumentCompleter(typeof(ServiceNameCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Service { get; set; }

        /// <summary>Only runs in these states (Pending, Running, Succeeded, Failed, PartiallySucceeded, Cancelled, Interrupted).</summary>
        [Parameter(ParameterSetName = ListSet)]
        public ReleaseDeploymentStatus[]? Status { get; set; }

        /// <summary>At most this many runs, newest first.</summary>
        [Parameter(ParameterSetName = ListSet)]
        [ValidateRange(1, int.MaxValue)]
        public int Limit { get; set; } = 20;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            // A run whose process died shows as Interrupted at once, not as Running until some other command notices.
            Await(async token =>
            {
                await Session.Engine.RecoverInterruptedRunsAsync(token).ConfigureAwait(false);
                return true;
            });
        }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == ByIdSet)
            {
                foreach (var id in DeploymentId)
                {
                    var record = Await(token => Session.Store.GetDeploymentAsync(id, token));
                    if (record is null)
                    {
                        WriteError(new ErrorRecord(
                            new ItemNotFoundException($"No deployment '{id}' is recorded in the store '{Session.StorePath}'. List recent runs with Get-ReleaseDeployment."),
                            "DeploymentNotFound",
                            ErrorCategory.ObjectNotFound,
                            id));
                        continue;
                    }

                    Write(record);
                }

                return;
            }

            // A run lists its services joined by commas; -Service (wildcards allowed) matches any one of them, so the
            // newest -Limit matching runs are picked here rather than by the store.
            var patterns = Service?.Select(s => WildcardPattern.Get(s, WildcardOptions.IgnoreCase)).ToArray();
            var query = new DeploymentQuery
            {
                Statuses = Status?.Select(s => OutputMapper.ByName<DeploymentStatus>(s)).ToList(),
                Limit = patterns is null ? Limit : 0,
            };
            var records = Await(token => Session.Store.FindDeploymentsAsync(query, token))
                .Where(r => patterns is null || r.Service.Split(',').Any(service => patterns.Any(p => p.IsMatch(service))))
                .Take(Limit)
                .ToList();
            WriteVerbose($"{records.Count} recorded run(s) matched (newest first, at most {Limit}).");
            foreach (var record in records)
            {
                Write(record);
            }
        }

        private void Write(DeploymentRecord record)
        {
            var targets = Await(token => Session.Store.GetTargetsAsync(record.DeploymentId, token));
            WriteObject(OutputMapper.ToOutput(record, targets));
        }
    }
}
