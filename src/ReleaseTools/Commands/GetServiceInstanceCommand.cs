using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Lists registered service instances and the version each runs. -Service and -InstanceId accept wildcards.</summary>
    [Cmdlet(VerbsCommon.Get, "ServiceInstance", HelpUri = "https://example.invalid/releasetools/docs/Get-ServiceInstance")]
    [OutputType(typeof(ServiceInstance))]
    public sealed class GetServiceInstanceCommand : ReleaseToolsCmdlet
    {
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ServiceNameCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Service { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[]? Environment { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
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
            var query = new InstanceQuery
            {
                Services = Literal(Service),
                Environments = Environment,
                InstanceIds = Literal(InstanceId),
                Version = Version,
            };
            var instances = Await(token => Session.Store.FindInstancesAsync(query, token));
            var servicePatterns = Patterns(Service);
            var idPatterns = Patterns(InstanceId);
            var found = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var instance in instances)
            {
                if (Matches(servicePatterns, instance.Service) && Matches(idPatterns, instance.InstanceId))
                {
                    found.Add(instance.InstanceId);
                    WriteObject(OutputMapper.ToOutput(instance));
                }
            }

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

        /// <summary>The store filters exact names; any wildcard means filtering here instead.</summary>
        private static IReadOnlyList<string>? Literal(string[]? values)
            => values is null || values.Any(WildcardPattern.ContainsWildcardCharacters) ? null : values;

        private static WildcardPattern[]? Patterns(string[]? values)
            => values is null || !values.Any(WildcardPattern.ContainsWildcardCharacters)
                ? null
                : values.Select(v => new WildcardPattern(v, WildcardOptions.IgnoreCase)).ToArray();

        private static bool Matches(WildcardPattern[]? patterns, string value) => patterns is null || patterns.Any(p => p.IsMatch(value));
    }
}
