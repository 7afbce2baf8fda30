using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Deployment;
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
            // A filter value no name or version can be is a typo: say so (as Register-ServiceInstance would refuse it), and
            // leave it out. A filter left with no usable value matches nothing, rather than everything.
            var services = Usable(Service, nameof(Service), RegistrationRules.ServiceNameInvalid, "a service name");
            var environments = Usable(Environment, nameof(Environment), RegistrationRules.EnvironmentNameInvalid, "an environment name");
            var versionProblem = Version is null ? null : VersionRules.Problem(Version, "version");
            if (versionProblem is not null)
            {
                WriteItemError(new ErrorRecord(new ArgumentException(versionProblem + " No instance can run it; Get-ServiceInstance without -Version shows the version each runs.", nameof(Version)),
                    EngineErrorIds.VersionInvalid, ErrorCategory.InvalidArgument, Version));
            }

            if (services is { Length: 0 } || environments is { Length: 0 } || versionProblem is not null)
            {
                return;
            }

            var filter = new InstanceFilter(services, environments, InstanceId, Version);
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

        /// <summary>The values of a name filter that could match a name; an error for each of the others. Null when the filter was not given.</summary>
        private string[]? Usable(string[]? values, string parameter, string errorId, string what)
        {
            if (values is null)
            {
                return null;
            }

            var usable = new List<string>();
            foreach (var value in values)
            {
                if (RegistrationRules.CheckNameFilter(value, WildcardPattern.ContainsWildcardCharacters(value), parameter, errorId, what) is { } problem)
                {
                    WriteItemError(new ErrorRecord(new ArgumentException(problem.Message, parameter), problem.ErrorId, ErrorCategory.InvalidArgument, value));
                }
                else
                {
                    usable.Add(value);
                }
            }

            return usable.ToArray();
        }
    }
}
