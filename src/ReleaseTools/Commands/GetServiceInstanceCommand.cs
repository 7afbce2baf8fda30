using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Lists registered service instances and the version each runs. -Service, -Environment and -InstanceId accept wildcards.</summary>
    [Cmdlet(VerbsCommon.Get, "ServiceInstance")]
    [OutputType(typeof(ServiceInstance))]
    public sealed class GetServiceInstanceCommand : ReleaseToolsCmdlet
    {
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ServiceNameCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Service { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(EnvironmentCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Environment { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? InstanceId { get; set; }

        /// <summary>Only instances that run this version.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(VersionCompleter))]
        [ValidateNotNullOrEmpty]
        public string? Version { get; set; }

        protected override void ProcessRecord()
        {
            var filter = new InstanceFilter(Service, Environment, InstanceId, Version);
            var found = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var instance in Await(token => filter.FindAsync(Session.Store, token)))
            {
                found.Add(instance.InstanceId);
                WriteObject(OutputMapper.ToOutput(instance));
            }

            WriteVerbose($"{found.Count} registered instance(s) matched.");
            foreach (var id in InstanceId ?? Array.Empty<string>())
            {
                if (!WildcardPattern.ContainsWildcardCharacters(id) && !found.Contains(id))
                {
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No instance '{id}' is registered in the store '{Session.StorePath}'. Register it with Register-ServiceInstance, or list what exists with Get-ServiceInstance."),
                        "InstanceNotFound",
                        ErrorCategory.ObjectNotFound,
                        id));
                }
            }
        }
    }
}
