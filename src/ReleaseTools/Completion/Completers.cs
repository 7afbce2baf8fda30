using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using ReleaseTools.Engine.Store;
using ReleaseTools.Hosting;

namespace ReleaseTools.Completion
{
    /// <summary>Completes -Service with the service names registered in the store.</summary>
    public sealed class ServiceNameCompleter : StoreCompleter
    {
        private protected override IEnumerable<Candidate> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
            => session.Store.GetServiceNamesAsync(cancellationToken).GetAwaiter().GetResult().Select(name => new Candidate(name));
    }

    /// <summary>Completes -Version with the versions known for the -Service already typed (or for every service).</summary>
    public sealed class VersionCompleter : StoreCompleter
    {
        private protected override IEnumerable<Candidate> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
        {
            var services = Typed(fakeBoundParameters, "Service");
            return session.Store.GetVersionsAsync(services is { Count: 1 } ? services[0] : null, cancellationToken).GetAwaiter().GetResult().Select(version => new Candidate(version));
        }
    }

    /// <summary>Completes -InstanceId with registered instances, narrowed by -Service and -Environment when typed.</summary>
    public sealed class InstanceIdCompleter : StoreCompleter
    {
        private protected override IEnumerable<Candidate> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
            => SelectedInstances(session, fakeBoundParameters, byInstanceId: false, cancellationToken)
                .Select(instance => new Candidate(instance.InstanceId, $"{instance.InstanceId}: {instance.Service} in {instance.Environment}, {instance.Version ?? "no release yet"} ({instance.Host}:{instance.Port})"));

        /// <param name="byInstanceId">Whether ids already typed narrow the set (not while completing -InstanceId itself).</param>
        internal static IReadOnlyList<InstanceRecord> SelectedInstances(ReleaseSession session, IDictionary fakeBoundParameters, bool byInstanceId, CancellationToken cancellationToken)
            => session.Store.FindInstancesAsync(new InstanceQuery
            {
                Services = Typed(fakeBoundParameters, "Service"),
                Environments = Typed(fakeBoundParameters, "Environment"),
                InstanceIds = byInstanceId ? Typed(fakeBoundParameters, "InstanceId") : null,
            }, cancellationToken).GetAwaiter().GetResult();
    }

    /// <summary>Completes -Environment with the environments instances are registered in (of the -Service typed, if any).</summary>
    public sealed class EnvironmentCompleter : StoreCompleter
    {
        private protected override IEnumerable<Candidate> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
            => session.Store.FindInstancesAsync(new InstanceQuery { Services = Typed(fakeBoundParameters, "Service") }, cancellationToken).GetAwaiter().GetResult()
                .Select(instance => new Candidate(instance.Environment));
    }

    /// <summary>Completes -DeploymentId with recorded runs, newest first, each with what it did and how it ended.</summary>
    public class DeploymentIdCompleter : StoreCompleter
    {
        private const int RecentRuns = 50;

        private protected override bool SortByValue => false;

        /// <summary>Null offers runs in every state.</summary>
        private protected virtual IReadOnlyList<DeploymentStatus>? Statuses => null;

        private protected override IEnumerable<Candidate> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
            => session.Store.FindDeploymentsAsync(new DeploymentQuery { Statuses = Statuses, Limit = RecentRuns }, cancellationToken).GetAwaiter().GetResult()
                .Select(run => new Candidate(run.DeploymentId, $"{run.DeploymentId}: {run.Operation} {run.Service} {run.TargetVersion}".TrimEnd() + $", {run.Status} ({run.SucceededTargets} of {run.TotalTargets} succeeded), {run.CreatedAt.ToLocalTime():g}"));
    }

    /// <summary>Completes Resume-Deployment -DeploymentId with the runs that can be resumed.</summary>
    public sealed class ResumableDeploymentIdCompleter : DeploymentIdCompleter
    {
        private static readonly IReadOnlyList<DeploymentStatus> Resumable = new[]
        {
            DeploymentStatus.Failed, DeploymentStatus.PartiallySucceeded, DeploymentStatus.Cancelled, DeploymentStatus.Interrupted,
        };

        private protected override IReadOnlyList<DeploymentStatus>? Statuses => Resumable;
    }

    /// <summary>
    /// Completes Invoke-Rollback -Version with the releases in the history of the instances named (-InstanceId, or
    /// -Service / -Environment), newest first, leaving out the one each runs now: the versions a rollback can go to.
    /// </summary>
    public sealed class RollbackVersionCompleter : StoreCompleter
    {
        private const int HistoryDepth = 50;

        private protected override bool SortByValue => false;

        private protected override IEnumerable<Candidate> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
        {
            if (Typed(fakeBoundParameters, "InstanceId") is null && Typed(fakeBoundParameters, "Service") is null && Typed(fakeBoundParameters, "Environment") is null)
            {
                return session.Store.GetVersionsAsync(null, cancellationToken).GetAwaiter().GetResult().Select(version => new Candidate(version));
            }

            var candidates = new List<Candidate>();
            foreach (var instance in InstanceIdCompleter.SelectedInstances(session, fakeBoundParameters, byInstanceId: true, cancellationToken))
            {
                foreach (var entry in session.Store.GetHistoryAsync(instance.InstanceId, HistoryDepth, cancellationToken).GetAwaiter().GetResult())
                {
                    if (entry.Version != instance.Version)
                    {
                        candidates.Add(new Candidate(entry.Version, $"{entry.Version}: reached {instance.InstanceId} at {entry.RecordedAt.ToLocalTime():g} ({entry.Operation} {entry.DeploymentId})"));
                    }
                }
            }

            return candidates;
        }
    }
}
