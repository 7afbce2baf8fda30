using System;
using System.Management.Automation;
using ReleaseTools.Completion;
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

        /// <summary>Writes the registered instance to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            if (!ShouldProcess($"{InstanceId} ({Service}/{Environment} at {HostName}:{Port})", "Register service instance"))
            {
                return;
            }

            var registration = new InstanceRegistration
            {
                InstanceId = InstanceId,
                Service = Service,
                Environment = Environment,
                Host = HostName,
                Port = Port,
                Tags = Tags,
            };
            var registered = Await(token => Session.Store.RegisterInstanceAsync(registration, token));
            if (PassThru)
            {
                WriteObject(OutputMapper.ToOutput(registered));
            }
        }
    }
}
