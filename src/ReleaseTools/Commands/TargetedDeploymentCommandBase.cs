using System.Collections.Generic;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Invoke-Deployment and Invoke-Rollback: take instances from the pipeline (by property name or whole objects),
    /// from -InstanceId, from explicit -Batches, or from the -Service/-Environment selectors; collect all of them;
    /// then run once, in EndProcessing, so the whole set is planned, batched and downloaded for once.
    /// </summary>
    public abstract class TargetedDeploymentCommandBase : DeploymentCommandBase
    {
        public const string BatchSizeSet = "BatchSize";
        public const string BatchesSet = "Batches";

        private readonly InstanceSelection _selection = new InstanceSelection();
        private string[]? _selectorServices;
        private string[]? _selectorEnvironments;

        /// <summary>Instance ids; a value with wildcards selects every registered instance it matches.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? InstanceId { get; set; }

        /// <summary>Whole objects with an InstanceId property, or plain instance id strings.</summary>
        [Parameter(ValueFromPipeline = true)]
        public PSObject? InputObject { get; set; }

        /// <summary>With no instances piped or named: every registered instance of these services.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ServiceNameCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Service { get; set; }

        /// <summary>With no instances piped or named: narrows -Service to these environments.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(EnvironmentCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Environment { get; set; }

        [Parameter(ParameterSetName = BatchSizeSet)]
        [ValidateRange(1, int.MaxValue)]
        public int BatchSize { get; set; }

        /// <summary>Explicit batches: an array of arrays of instance ids, run in order.</summary>
        [Parameter(ParameterSetName = BatchesSet, Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string[][]? Batches { get; set; }

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            // Values given on the command line select instances; values bound later come from pipeline objects.
            _selectorServices = Service;
            _selectorEnvironments = Environment;
        }

        protected override void ProcessRecord()
        {
            _selection.Add(InputObject);
            _selection.Add(InstanceId);
        }

        protected override void EndProcessing()
        {
            foreach (var batch in Batches ?? new string[0][])
            {
                _selection.Add(batch);
            }

            // Downstream of a pipeline that emitted nothing (`... | Where-Object Status -eq Failed | Invoke-Rollback`
            // when nothing failed) there is nothing to do, as with any PowerShell command: not an error.
            if (MyInvocation.ExpectingInput && _selection.Count == 0 && _selectorServices is null && _selectorEnvironments is null && Batches is null)
            {
                ReportNothingPiped($"Nothing was piped to {MyInvocation.MyCommand.Name}: there is no instance to {Verb}, and nothing changed.");
                return;
            }

            var (instanceIds, noMatch) = Await(token => _selection.ResolveAsync(Session.Store, _selectorServices, _selectorEnvironments, token));
            if (instanceIds.Count == 0)
            {
                ThrowReportedError(new ErrorRecord(
                    new System.ArgumentException(noMatch is not null
                        ? $"No instances to {Verb}. {noMatch}"
                        : $"No instances to {Verb}. Pipe instances (for example Get-ServiceInstance -Service <name> | {MyInvocation.MyCommand.Name} ...), pass -InstanceId, or pass -Service to select every registered instance of a service."),
                    Noun + "NoInstances",
                    noMatch is not null ? ErrorCategory.ObjectNotFound : ErrorCategory.InvalidArgument,
                    null));
            }

            Run(instanceIds, BatchLayoutOf(BatchSize, Batches));
        }

        /// <summary>
        /// An empty input pipeline: a deployment warns (a scheduled release that deploys nothing should be seen); a
        /// rollback only says so in verbose, since "roll back what failed" with nothing failed is the good case.
        /// </summary>
        private protected abstract void ReportNothingPiped(string message);

        /// <summary>"deploy to", "roll back": for messages.</summary>
        private protected abstract string Verb { get; }

        /// <summary>"Deployment", "Rollback": the noun of error ids.</summary>
        private protected abstract string Noun { get; }

        private protected abstract void Run(IReadOnlyList<string> instanceIds, BatchLayout batches);

        /// <summary>Instance id → the deployment named by the piped object it came from (a DeploymentResult, a run's target, a history entry).</summary>
        private protected IReadOnlyDictionary<string, string> PipedOrigins => _selection.Origins;

        /// <summary>The first few ids, for confirmation prompts.</summary>
        private protected static string DescribeTargets(IReadOnlyList<string> ids)
        {
            var shown = new List<string>();
            for (var i = 0; i < ids.Count && i < 5; i++)
            {
                shown.Add(ids[i]);
            }

            if (ids.Count > 5)
            {
                shown.Add($"and {ids.Count - 5} more");
            }

            return $"{ids.Count} instance(s): {string.Join(", ", shown)}";
        }
    }
}
