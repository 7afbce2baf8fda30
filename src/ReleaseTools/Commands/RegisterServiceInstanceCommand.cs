using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Completion;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;
using ReleaseTools.Parameters;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Adds an instance to the store, or updates its service, environment, host, port and tags if the id exists
    /// (its version history is kept). Binds inventory rows by property name: Import-Csv hosts.csv | Register-ServiceInstance.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Register, "ServiceInstance", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(ServiceInstance))]
    public sealed class RegisterServiceInstanceCommand : ReleaseToolsCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string InstanceId { get; set; } = "";

        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ServiceNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string Service { get; set; } = "";

        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(EnvironmentCompleter))]
        [ValidateNotNullOrEmpty]
        public string Environment { get; set; } = "";

        /// <summary>Host name or address of the instance's Floyd agent.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Host")]
        [ValidateNotNullOrEmpty]
        public string HostName { get; set; } = "";

        /// <summary>TCP port of the instance's Floyd agent.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [ValidateRange(1, 65535)]
        public int Port { get; set; }

        /// <summary>Free-form labels. "a;b" is two tags and an empty string none, so Import-Csv rows bind as Export-Csv wrote them.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [AllowEmptyCollection]
        [AllowEmptyString]
        [TagListTransformation]
        public string[] Tags { get; set; } = Array.Empty<string>();

        /// <summary>
        /// Which of its agent's instances this is, when one agent hosts several instances of the service (for example
        /// web on ports 8081 and 8082 of one machine). Left out: the agent's default instance.
        /// </summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyString]
        public string? AgentInstance { get; set; }

        /// <summary>Reach the agent over HTTPS (an agent started with an https:// address and --tls-certificate).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [BooleanTextTransformation]
        public SwitchParameter UseHttps { get; set; }

        /// <summary>
        /// Trust the agent's TLS certificate by its SHA-256 fingerprint (as 'openssl x509 -noout -fingerprint -sha256'
        /// prints it; colons and case do not matter) instead of the machine's trust store. Needs -UseHttps.
        /// </summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyString]
        public string? AgentCertificateFingerprint { get; set; }

        /// <summary>Writes the registered instance to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>Registers an instance even though another registered instance has the same host and port.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        private Dictionary<string, InstanceRecord>? _byId;
        private int _added;
        private int _changed;
        private int _unchanged;

        protected override void ProcessRecord()
        {
            var registration = new InstanceRegistration
            {
                InstanceId = InstanceId,
                Service = Service,
                Environment = Environment,
                Host = HostName,
                Port = Port,
                Tags = Tags,
                // An empty cell of an inventory row (Export-Csv writes null as "") means none.
                AgentInstance = string.IsNullOrEmpty(AgentInstance) ? null : AgentInstance,
                UseHttps = UseHttps,
                AgentCertificate = string.IsNullOrWhiteSpace(AgentCertificateFingerprint) ? null
                    : AgentCertificatePins.Normalize(AgentCertificateFingerprint) ?? AgentCertificateFingerprint,
            };

            // Checked before the store is opened: a refused row leaves the store exactly as it was.
            if (RegistrationRules.Check(registration) is { } problem)
            {
                WriteItemError(new ErrorRecord(new ArgumentException(problem.Message, problem.Parameter), problem.ErrorId, ErrorCategory.InvalidArgument, problem.Value));
                return;
            }

            if (IsWhatIf)
            {
                // -WhatIf says what would be registered without opening (or creating) the store.
                ShouldProcess($"{InstanceId} ({Service}/{Environment} at {HostName}:{Port})", "Register service instance");
                return;
            }

            var known = KnownInstances();
            known.TryGetValue(InstanceId, out var existing);
            var changes = existing is null ? null : DescribeChanges(existing, registration);
            if (existing != null && changes!.Count == 0)
            {
                // Nothing to write: the row, and its update time, stay as they are.
                _unchanged++;
                WriteVerbose($"Unchanged: {InstanceId} ({Service}/{Environment} at {HostName}:{Port}).");
                if (PassThru)
                {
                    WriteObject(OutputMapper.ToOutput(existing));
                }

                return;
            }

            // One agent may host several instances of a service, told apart by their agent instance ids: only the same
            // address and the same agent instance (compared as a case-insensitive file system would) is one instance twice.
            var sameAddress = known.Values.FirstOrDefault(other => !string.Equals(other.InstanceId, InstanceId, StringComparison.Ordinal)
                && other.Port == Port && string.Equals(other.Host, HostName, StringComparison.OrdinalIgnoreCase)
                && string.Equals(other.AgentInstance, registration.AgentInstance, StringComparison.OrdinalIgnoreCase));
            if (sameAddress != null)
            {
                var which = registration.AgentInstance == null ? "the agent's default instance" : $"agent instance '{registration.AgentInstance}'";
                var message = $"Instance '{sameAddress.InstanceId}' is already registered at {HostName}:{Port} as {which}; two instances there would be " +
                    "deployed over each other by the same agent. Check the host and port of '" + InstanceId + "', give each its own -AgentInstance " +
                    "if one agent hosts both, or pass -Force if both really are one instance.";
                if (!Force)
                {
                    WriteItemError(new ErrorRecord(new InvalidOperationException(message), "InstanceAddressInUse", ErrorCategory.ResourceExists, InstanceId));
                    return;
                }

                WriteReportedWarning("InstanceAddressInUse", $"Instance '{InstanceId}' is registered at {HostName}:{Port} like '{sameAddress.InstanceId}' (-Force).");
            }

            if (!ShouldProcess($"{InstanceId} ({Service}/{Environment} at {HostName}:{Port})", existing is null ? "Register service instance" : "Update service instance"))
            {
                return;
            }

            var registered = Await(token => Session.Store.RegisterInstanceAsync(registration, token));
            known[registered.InstanceId] = registered;
            if (existing is null)
            {
                _added++;
                WriteVerbose($"Added: {InstanceId} ({Service}/{Environment} at {HostName}:{Port}).");
            }
            else
            {
                _changed++;
                WriteVerbose($"Changed: {InstanceId}: {string.Join("; ", changes!)}.");
            }

            if (PassThru)
            {
                WriteObject(OutputMapper.ToOutput(registered));
            }
        }

        protected override void EndProcessing()
        {
            if (_added + _changed + _unchanged > 0)
            {
                // A summary in the information stream: silent by default, shown with -InformationAction Continue, kept with -InformationVariable.
                WriteInformation(new InformationRecord(
                    new RegistrationSummary(_added, _changed, _unchanged),
                    MyInvocation.MyCommand.Name));
            }
        }

        /// <summary>The registered instances by id, read once per invocation so a whole inventory is compared against one read.</summary>
        private Dictionary<string, InstanceRecord> KnownInstances()
        {
            if (_byId is null)
            {
                var all = Await(token => Session.Store.FindInstancesAsync(new InstanceQuery(), token));
                _byId = all.ToDictionary(instance => instance.InstanceId, StringComparer.Ordinal);
            }

            return _byId;
        }

        private static List<string> DescribeChanges(InstanceRecord existing, InstanceRegistration wanted)
        {
            var changes = new List<string>();
            void Compare(string name, string before, string after)
            {
                if (!string.Equals(before, after, StringComparison.Ordinal))
                {
                    changes.Add($"{name} '{before}' -> '{after}'");
                }
            }

            Compare("Service", existing.Service, wanted.Service);
            Compare("Environment", existing.Environment, wanted.Environment);
            Compare("Host", existing.Host, wanted.Host);
            Compare("Port", existing.Port.ToString(CultureInfo.InvariantCulture), wanted.Port.ToString(CultureInfo.InvariantCulture));
            Compare("Tags", string.Join(";", existing.Tags), string.Join(";", wanted.Tags));
            Compare("AgentInstance", existing.AgentInstance ?? "", wanted.AgentInstance ?? "");
            Compare("UseHttps", existing.UseHttps.ToString(), wanted.UseHttps.ToString());
            Compare("AgentCertificateFingerprint", existing.AgentCertificate ?? "", wanted.AgentCertificate ?? "");
            return changes;
        }
    }
}
