using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Removes instances from the store's registry. Their version history and deployment records stay.</summary>
    [Cmdlet(VerbsLifecycle.Unregister, "ServiceInstance", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(ServiceInstance))]
    public sealed class UnregisterServiceInstanceCommand : ReleaseToolsCmdlet
    {
        /// <summary>Instance ids; a value with wildcards means every registered instance it matches (each confirmed on its own).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] InstanceId { get; set; } = System.Array.Empty<string>();

        /// <summary>Skips the confirmation prompt.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Writes each removed instance (as it was registered) to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            foreach (var id in ExpandInstanceIds(InstanceId, reportNoMatch: true))
            {
                if (!ShouldProcessUnlessForced(Force, id, "Unregister service instance"))
                {
                    continue;
                }

                var existing = Await(token => Session.Store.GetInstanceAsync(id, token));
                if (existing is null || !Await(token => Session.Store.UnregisterInstanceAsync(id, token)))
                {
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No instance '{id}' is registered in the store '{Session.StorePath}', so there was nothing to unregister."),
                        "InstanceNotFound",
                        ErrorCategory.ObjectNotFound,
                        id));
                    continue;
                }

                if (PassThru)
                {
                    WriteObject(OutputMapper.ToOutput(existing));
                }
            }
        }
    }
}
