using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Instance leases for one run: a read-only check before anything is downloaded (so a conflict fails fast and
    /// leaves no record), the all-or-nothing claim once the deployment record exists, a heartbeat while the run
    /// works, and the release at the end.
    /// </summary>
    internal sealed class LeaseCoordinator
    {
        private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
        private readonly IReleaseStore _store;
        private readonly TimeSpan _leaseDuration;
        private readonly Func<string, LeaseOwner> _ownerFor;

        public LeaseCoordinator(IReleaseStore store, TimeSpan leaseDuration, Func<string, LeaseOwner> ownerFor)
        {
            _store = store;
            _leaseDuration = leaseDuration <= TimeSpan.Zero ? TimeSpan.FromMinutes(2) : leaseDuration;
            _ownerFor = ownerFor;
        }

        public static string DescribeHolder(LeaseRecord lease) =>
            $"deployment {lease.Owner.DeploymentId} on host {lease.Owner.HostName}, process {lease.Owner.ProcessId}";

        /// <summary>Leases other runs hold on these instances now (expired ones do not count).</summary>
        public async Task<IReadOnlyList<LeaseRecord>> HeldByOthersAsync(IReadOnlyList<string> instanceIds, string? ownDeploymentId, CancellationToken cancellationToken)
        {
            var now = DateTimeOffset.UtcNow;
            var leases = await _store.GetLeasesAsync(instanceIds, cancellationToken).ConfigureAwait(false);
            return leases.Where(l => l.ExpiresAt > now && !string.Equals(l.Owner.DeploymentId, ownDeploymentId, StringComparison.Ordinal)).ToList();
        }

        /// <summary>Fails with InstanceLeaseConflict (or waits up to <paramref name="wait"/>) while another run holds an instance.</summary>
        public async Task EnsureFreeAsync(IReadOnlyList<string> instanceIds, TimeSpan? wait, CancellationToken cancellationToken)
        {
            var deadline = DateTimeOffset.UtcNow + (wait ?? TimeSpan.Zero);
            while (true)
            {
                var held = await HeldByOthersAsync(instanceIds, null, cancellationToken).ConfigureAwait(false);
                if (held.Count == 0)
                {
                    return;
                }

                if (DateTimeOffset.UtcNow >= deadline)
                {
                    throw Conflict(held, wait);
                }

                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>Claims every instance for the deployment, or throws InstanceLeaseConflict once the wait is over.</summary>
        public async Task ClaimAsync(string deploymentId, IReadOnlyList<string> instanceIds, TimeSpan? wait, CancellationToken cancellationToken)
        {
            var owner = _ownerFor(deploymentId);
            var deadline = DateTimeOffset.UtcNow + (wait ?? TimeSpan.Zero);
            while (true)
            {
                var result = await _store.TryClaimInstancesAsync(owner, instanceIds, _leaseDuration, cancellationToken).ConfigureAwait(false);
                if (result.Acquired)
                {
                    return;
                }

                if (DateTimeOffset.UtcNow >= deadline)
                {
                    throw Conflict(result.Conflicts, wait);
                }

                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        public Task ReleaseAsync(string deploymentId) => _store.ReleaseLeasesAsync(deploymentId, CancellationToken.None);

        /// <summary>
        /// Renews the run's leases at a third of their duration until stopped, so a live run never loses them. When a
        /// renewal finds some gone (expired and taken by another run, force-released, or the run marked Interrupted by
        /// another process), <paramref name="onLost"/> hears once per instance why, so the run stops touching it.
        /// </summary>
        public Heartbeat StartHeartbeat(string deploymentId, IReadOnlyList<string> instanceIds, EventPublisher events, Action<string, string> onLost) =>
            new Heartbeat(_store, deploymentId, instanceIds, _leaseDuration, events, onLost);

        private static DeploymentException Conflict(IReadOnlyList<LeaseRecord> held, TimeSpan? wait)
        {
            var holders = held.GroupBy(l => l.Owner.DeploymentId)
                .Select(g => $"{string.Join(", ", g.Select(l => l.InstanceId))} held by {DescribeHolder(g.First())} until {g.Max(l => l.ExpiresAt):u}");
            var waited = wait.HasValue && wait.Value > TimeSpan.Zero ? $" after waiting {wait.Value.TotalSeconds:0} s" : "";
            var ids = held.Select(l => l.InstanceId).ToArray();
            return new DeploymentException(EngineErrorIds.InstanceLeaseConflict, DeploymentErrorKind.ResourceBusy,
                $"Another run is deploying to these instances{waited}: {string.Join("; ", holders)}. " +
                "Wait for it to finish (Get-ReleaseDeployment shows it), or, if that run is dead, release its leases with " +
                $"'Unlock-ServiceInstance -InstanceId {string.Join(",", ids)} -Reason <why>'.",
                ids);
        }

        internal sealed class Heartbeat : IDisposable
        {
            private readonly CancellationTokenSource _stop = new CancellationTokenSource();
            private readonly Task _loop;

            private readonly HashSet<string> _held;

            public Heartbeat(IReleaseStore store, string deploymentId, IReadOnlyList<string> instanceIds, TimeSpan leaseDuration, EventPublisher events,
                Action<string, string> onLost)
            {
                _held = new HashSet<string>(instanceIds, StringComparer.OrdinalIgnoreCase);
                var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, leaseDuration.Ticks / 3));
                _loop = Task.Run(async () =>
                {
                    while (!_stop.IsCancellationRequested)
                    {
                        try
                        {
                            await Task.Delay(interval, _stop.Token).ConfigureAwait(false);
                            var renewal = await store.RenewLeasesAsync(deploymentId, leaseDuration, CancellationToken.None).ConfigureAwait(false);
                            await ReportLostAsync(store, renewal, onLost).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            return;
                        }
                        catch (Exception ex)
                        {
                            events.Warn($"Could not renew the instance leases: {ex.Message}. Another run may take these instances if this goes on.");
                        }
                    }
                });
            }

            private async Task ReportLostAsync(IReleaseStore store, LeaseRenewal renewal, Action<string, string> onLost)
            {
                var renewed = new HashSet<string>(renewal.Renewed, StringComparer.OrdinalIgnoreCase);
                var lost = _held.Where(id => !renewed.Contains(id)).ToList();
                if (lost.Count == 0)
                {
                    return;
                }

                var holders = (await store.GetLeasesAsync(lost, CancellationToken.None).ConfigureAwait(false))
                    .ToDictionary(l => l.InstanceId, StringComparer.OrdinalIgnoreCase);
                foreach (var instanceId in lost)
                {
                    _held.Remove(instanceId);
                    var why = holders.TryGetValue(instanceId, out var holder)
                        ? $"its lease expired and {DescribeHolder(holder)} took it (since {holder.AcquiredAt:u}, until {holder.ExpiresAt:u})"
                        : "its lease was released by someone else (force-released, or another process marked this run Interrupted)";
                    onLost(instanceId, why);
                }
            }

            public async Task StopAsync()
            {
                _stop.Cancel();
                await _loop.ConfigureAwait(false);
            }

            public void Dispose() => _stop.Dispose();
        }
    }
}
