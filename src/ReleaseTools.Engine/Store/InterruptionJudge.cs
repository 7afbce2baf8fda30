using System;
using System.Collections.Generic;
using System.Linq;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// Decides whether a Running deployment has stopped for good: its owner process is known dead, or every lease it
    /// holds expired without a heartbeat (which is how a run that died on another machine is recognised). The same
    /// rule for every store; <c>now</c> is the store's clock (the server's, for PostgreSQL).
    /// </summary>
    internal static class InterruptionJudge
    {
        public static InterruptReason? Judge(RunningDeployment candidate, Func<LeaseOwner, bool> isOwnerAlive, DateTimeOffset now)
        {
            foreach (var owner in candidate.Owners)
            {
                if (!isOwnerAlive(owner))
                {
                    return new InterruptReason(ownerDead: true, ProcessIdentity.IsAbandoned(owner)
                        ? $"its owner, process {owner.ProcessId} on host {owner.HostName}, stopped it when the store could not record it"
                        : $"its owner, process {owner.ProcessId} on host {owner.HostName}, is no longer running");
                }
            }

            if (candidate.Leases.Count == 0 && candidate.Owners.Any(o => !string.Equals(o.HostName, ProcessIdentity.HostName, StringComparison.OrdinalIgnoreCase)))
            {
                // A running run always holds its leases; none left means they were force-released, and its owner on
                // another host cannot be asked whether it still works.
                var owner = candidate.Owners.First();
                return new InterruptReason(ownerDead: false,
                    $"its leases were released while it ran (process {owner.ProcessId} on host {owner.HostName} holds none)");
            }

            if (candidate.Leases.Count > 0 && candidate.Leases.All(l => l.ExpiresAt <= now))
            {
                var lastExpiry = candidate.Leases.Max(l => l.ExpiresAt);
                return new InterruptReason(ownerDead: false,
                    $"its leases expired at {lastExpiry:u} without a heartbeat from process {candidate.Leases[0].Owner.ProcessId} on host {candidate.Leases[0].Owner.HostName}");
            }

            return null;
        }

        public static string AuditMessage(InterruptReason reason)
        {
            var self = ProcessIdentity.Current("");
            return $"Marked interrupted and its instances released, because {reason.Description}. Detected by process {self.ProcessId} on host {self.HostName}.";
        }

        public const string TargetError = "Interrupted: the deployment stopped before this instance finished.";

        /// <summary>SQL condition: a lease whose run has recorded its end (any status but pending and running).</summary>
        public const string HeldByEndedRun =
            "deployment_id IN (SELECT deployment_id FROM deployments WHERE status NOT IN ('pending', 'running'))";

        /// <summary>The audit line for leases freed because their run had ended.</summary>
        public static string EndedRunLeasesMessage(IEnumerable<string> instanceIds) =>
            $"Freed the leases on {string.Join(", ", instanceIds)}: the run had recorded its end but not released them (the store failed in between).";
    }

    /// <summary>A Running deployment as recovery sees it: the owner it recorded and the leases it still holds.</summary>
    internal sealed class RunningDeployment
    {
        private readonly LeaseOwner? _recordedOwner;

        public RunningDeployment(string deploymentId, LeaseOwner? recordedOwner)
        {
            DeploymentId = deploymentId;
            _recordedOwner = recordedOwner;
        }

        public string DeploymentId { get; }
        public List<LeaseRecord> Leases { get; } = new List<LeaseRecord>();

        /// <summary>Each distinct process that holds (or last claimed) the deployment's leases.</summary>
        public IEnumerable<LeaseOwner> Owners
        {
            get
            {
                var owners = Leases.Select(l => l.Owner).ToList();
                if (_recordedOwner != null)
                {
                    owners.Add(_recordedOwner);
                }

                return owners.GroupBy(o => (o.HostName.ToUpperInvariant(), o.ProcessId)).Select(g => g.First());
            }
        }
    }

    internal sealed class InterruptReason
    {
        public InterruptReason(bool ownerDead, string description)
        {
            OwnerDead = ownerDead;
            Description = description;
        }

        public bool OwnerDead { get; }
        public string Description { get; }
    }
}
