using System;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Lists recorded deployment and rollback runs, newest first, with their per-batch and per-instance state.</summary>
    [Cmdlet(VerbsCommon.Get, "ReleaseDeployment", DefaultParameterSetName = ListSet, HelpUri = "https://example.invalid/releasetools/docs/Get-ReleaseDeployment")]
    [OutputType(typeof(ReleaseDeployment))]
    public sealed class GetReleaseDeploymentCommand : ReleaseToolsCmdlet
    {
        public const string ListSet = "List";
        public const string ByIdSet = "ById";

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByIdSet, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] DeploymentId { get; set; } = Array.Empty<string>();

        [Parameter(ParameterSetName = ListSet)]
        [ArgumentCompleter(typeof(ServiceNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string[]? Service { get; set; }

        /// <summary>Only runs in these states (Pending, Running, Succeeded, Failed, PartiallySucceeded, Cancelled, Interrupted).</summary>
        [Parameter(ParameterSetName = ListSet)]
        public ReleaseDeploymentStatus[]? Status { get; set; }

        /// <summary>At most this many runs, newest first.</summary>
        [Parameter(ParameterSetName = ListSet)]
        [ValidateRange(1, int.MaxValue)]
        public int Limit { get; set; } = 20;

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

            var query = new DeploymentQuery
            {
                Services = Service,
                Statuses = Status?.Select(s => OutputMapper.ByName<DeploymentStatus>(s)).ToList(),
                Limit = Limit,
            };
            foreach (var record in Await(token => Session.Store.FindDeploymentsAsync(query, token)))
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
