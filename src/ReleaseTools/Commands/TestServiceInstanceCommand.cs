using System;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Asks each instance's Floyd agent for its health and active release. An unreachable agent is a result
    /// (Reachable = false), not an error: this cmdlet exists to find those.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "ServiceInstance")]
    [OutputType(typeof(InstanceHealth))]
    public sealed class TestServiceInstanceCommand : ReleaseToolsCmdlet
    {
        private readonly InstanceSelection _selection = new InstanceSelection();
        private string[]? _selectorServices;
        private string[]? _selectorEnvironments;
        private bool _blankIdReported;

        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? InstanceId { get; set; }

        [Parameter(ValueFromPipeline = true)]
        public PSObject? InputObject { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ServiceNameCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Service { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(EnvironmentCompleter))]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Environment { get; set; }

        [Parameter]
        [ValidateRange(1, 1024)]
        public int ThrottleLimit { get; set; } = 5;

        /// <summary>RSA private key (PEM) that signs the health requests. Default: RELEASETOOLS_PRIVATE_KEY.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PrivateKeyPath { get; set; }

        /// <summary>Hash inside the request signature; must match the agents' --hash-algorithm.</summary>
        [Parameter]
        [ValidateSet("SHA1", "SHA256", IgnoreCase = true)]
        public string SignatureAlgorithm { get; set; } = "SHA1";

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            _selectorServices = Service;
            _selectorEnvironments = Environment;
        }

        protected override void ProcessRecord()
        {
            _selection.Add(InputObject);
            foreach (var id in InstanceId ?? Array.Empty<string>())
            {
                // A blank id names no instance; said here, with the value, rather than dropped by the selection.
                if (string.IsNullOrWhiteSpace(id))
                {
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No instance '{id}' is registered in the store '{Session.StorePath}': an instance id is never blank. List what exists with Get-ServiceInstance."),
                        "InstanceNotFound", ErrorCategory.ObjectNotFound, id));
                    _blankIdReported = true;
                }
            }

            _selection.Add(InstanceId);
        }

        protected override void EndProcessing()
        {
            // Downstream of a pipeline that emitted nothing there is nothing to test: not an error.
            if (MyInvocation.ExpectingInput && _selection.Count == 0 && _selectorServices is null && _selectorEnvironments is null)
            {
                WriteVerbose("Nothing was piped to Test-ServiceInstance: there is no instance to test.");
                return;
            }

            var (instanceIds, noMatch) = Await(token => _selection.ResolveAsync(Session.Store, _selectorServices, _selectorEnvironments, token));
            if (instanceIds.Count == 0 && _blankIdReported && _selectorServices is null && _selectorEnvironments is null)
            {
                return; // each blank id already has its error; "no instances to test" would only repeat it without the value
            }

            if (instanceIds.Count == 0)
            {
                ThrowReportedError(new ErrorRecord(
                    new ArgumentException(noMatch is not null ? $"No instances to test. {noMatch}" : "No instances to test. Pipe instances, pass -InstanceId, or pass -Service."),
                    "HealthCheckNoInstances",
                    noMatch is not null ? ErrorCategory.ObjectNotFound : ErrorCategory.InvalidArgument,
                    null));
            }

            var settings = new RunSettings { ThrottleLimit = ThrottleLimit, PrivateKeyPath = ResolvePrivateKey(PrivateKeyPath), Floyd = FloydOptions(SignatureAlgorithm) };
            // Each result is written as its agent answers (in that order), with progress while the others are asked.
            const int progressId = 1;
            var activity = $"Testing {instanceIds.Count} instance(s)";
            var status = $"0 of {instanceIds.Count} checked";
            var percent = 0;
            string? asked = null;
            // A new record each time: hosts may keep the records they are given.
            void Report() => WriteProgress(new ProgressRecord(progressId, activity, status) { PercentComplete = percent, CurrentOperation = asked });
            Report();
            try
            {
                RunDraining((observer, token) => Session.Engine.TestInstancesAsync(instanceIds, settings, observer, token), engineEvent =>
                {
                    switch (engineEvent)
                    {
                        case InstanceStepStarted asking:
                            asked = $"{asking.InstanceId}: asking its agent";
                            Report();
                            break;
                        case InstanceHealthChecked answered:
                            var health = OutputMapper.ToOutput(answered.Result);
                            WriteVerbose($"{health.InstanceId}: {(health.Reachable ? health.Healthy ? "healthy" : "unhealthy" : "unreachable")}, {health.LatencyMilliseconds:0.#} ms{(health.Error is null ? "" : " (" + health.Error + ")")}");
                            status = $"{answered.Checked} of {answered.Total} checked";
                            percent = answered.Checked * 100 / Math.Max(1, answered.Total);
                            Report();
                            WriteObject(health);
                            break;
                    }
                });
            }
            finally
            {
                WriteProgress(new ProgressRecord(progressId, activity, "Done") { RecordType = ProgressRecordType.Completed, PercentComplete = 100 });
            }
        }
    }
}
