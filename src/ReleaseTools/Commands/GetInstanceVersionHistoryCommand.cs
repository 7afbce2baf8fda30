using System;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Lists the releases an instance was moved to, newest first, with the deployment or rollback that moved it, and the
    /// attempts its agent reverted (Outcome Reverted) between them.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "InstanceVersionHistory")]
    [OutputType(typeof(VersionHistoryEntry))]
    public sealed class GetInstanceVersionHistoryCommand : ReleaseToolsCmdlet
    {
        /// <summary>Instance ids; a value with wildcards means every registered instance it matches.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] InstanceId { get; set; } = Array.Empty<string>();

        /// <summary>At most this many entries per instance.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int Limit { get; set; } = 50;

        protected override void ProcessRecord()
        {
            foreach (var id in ExpandInstanceIds(InstanceId, reportNoMatch: false))
            {
                var history = Await(token => Session.Store.GetHistoryIncludingRevertedAsync(id, Limit, token));
                if (history.Count == 0 && Await(token => Session.Store.GetInstanceAsync(id, token)) is null)
                {
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"Instance '{id}' is not registered and has no history in the store '{Session.StorePath}'. Check the id with Get-ServiceInstance."),
                        "InstanceNotFound",
                        ErrorCategory.ObjectNotFound,
                        id));
                    continue;
                }

                WriteVerbose($"{id}: {history.Count} history entr{(history.Count == 1 ? "y" : "ies")} (at most {Limit}).");
                foreach (var entry in history)
                {
                    WriteObject(OutputMapper.ToOutput(entry));
                }
            }
        }
    }
}
