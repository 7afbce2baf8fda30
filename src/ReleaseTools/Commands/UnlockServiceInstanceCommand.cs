using System;
using System.Management.Automation;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Force-releases the lease a run holds on instances, for when that run is dead (its machine is gone, its process was
    /// killed on another host) and other runs must not wait for the lease to expire. The store records who released it
    /// and why in the holding run's audit trail; a holding run whose owner is gone is then marked Interrupted.
    /// </summary>
    [Cmdlet(VerbsCommon.Unlock, "ServiceInstance", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High,
        RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(InstanceLease))]
    public sealed class UnlockServiceInstanceCommand : ReleaseToolsCmdlet
    {
        /// <summary>Instances whose lease to release; a value with wildcards means every registered instance it matches.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] InstanceId { get; set; } = Array.Empty<string>();

        /// <summary>Why the lease is released; kept in the holding run's audit trail with who released it.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Reason { get; set; } = "";

        /// <summary>Skips the confirmation prompt.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Writes each released lease (who held it, until when) to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            // The reason is the audit trail's only account of why a run lost its instances: spaces are no reason.
            if (string.IsNullOrWhiteSpace(Reason))
            {
                ThrowReportedError(new ErrorRecord(
                    new ArgumentException("-Reason is blank; say why the lease is released (it is kept in the holding run's audit trail)."),
                    "UnlockReasonMissing", ErrorCategory.InvalidArgument, Reason));
            }
        }

        protected override void ProcessRecord()
        {
            foreach (var id in ExpandInstanceIds(InstanceId, reportNoMatch: true))
            {
                var held = Await(token => Session.Store.GetLeasesAsync(new[] { id }, token));
                if (held.Count == 0 && Await(token => Session.Store.GetInstanceAsync(id, token)) is null)
                {
                    // Neither registered nor leased: most likely a typo, which a warning about leases would hide.
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No instance '{id}' is registered or leased in the store '{Session.StorePath}'. List them with Get-ServiceInstance."),
                        "InstanceNotFound", ErrorCategory.ObjectNotFound, id));
                    continue;
                }

                if (held.Count == 0)
                {
                    WriteWarning($"Instance '{id}' holds no lease in the store '{Session.StorePath}'; there is nothing to release.");
                    continue;
                }

                var lease = held[0];
                var holder = $"{lease.Owner.DeploymentId} (host {lease.Owner.HostName}, process {lease.Owner.ProcessId}, until {lease.ExpiresAt:u})";
                if (!ShouldProcessUnlessForced(Force, $"{id}: lease held by deployment {holder}", "Force-release the instance lease"))
                {
                    continue;
                }

                var releasedBy = $"{System.Environment.UserName} on {System.Environment.MachineName}";
                var released = Await(token => Session.Store.ForceReleaseLeaseAsync(id, releasedBy, Reason, token));
                if (released is null)
                {
                    WriteVerbose($"The lease on '{id}' was already gone.");
                    continue;
                }

                WriteVerbose($"Released the lease of deployment {released.Owner.DeploymentId} on '{id}'; recorded in its audit trail as released by {releasedBy}.");
                if (PassThru)
                {
                    WriteObject(OutputMapper.ToOutput(released));
                }
            }
        }

        protected override void EndProcessing()
        {
            // A run left without leases whose owner is gone shows as Interrupted at once.
            Await(async token =>
            {
                await Session.Engine.RecoverInterruptedRunsAsync(token).ConfigureAwait(false);
                return true;
            });
        }
    }
}
