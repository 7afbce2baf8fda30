using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Operations
{
    /// <summary>Agent health and active release per instance, concurrently under the throttle; read-only.</summary>
    internal sealed class InstanceHealthChecker
    {
        private readonly EngineServices _services;

        public InstanceHealthChecker(EngineServices services)
        {
            _services = services;
        }

        public const string HealthStep = "health";

        public async Task<IReadOnlyList<InstanceHealthResult>> CheckAsync(IReadOnlyList<string> instanceIds, RunSettings settings, IDeploymentObserver? observer, CancellationToken cancellationToken)
        {
            RequestValidator.ValidateSettings(settings);
            var ids = RequestValidator.RequireInstances(instanceIds, new BatchLayout());
            using var client = _services.CreateClient(settings);
            var instances = await InstanceResolver.ResolveAsync(_services.Store, ids, cancellationToken).ConfigureAwait(false);
            var results = new InstanceHealthResult[ids.Count];
            var checkedCount = 0;
            await SlidingWindow.RunAsync(Enumerable.Range(0, ids.Count).ToList(), settings.ThrottleLimit, async i =>
            {
                observer?.OnEvent(new InstanceStepStarted { InstanceId = ids[i], Step = HealthStep, Attempt = 1 });
                results[i] = await CheckOneAsync(client.Client, instances[ids[i]], cancellationToken).ConfigureAwait(false);
                observer?.OnEvent(new InstanceHealthChecked { Result = results[i], Checked = Interlocked.Increment(ref checkedCount), Total = ids.Count });
            }, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return results;
        }

        private static async Task<InstanceHealthResult> CheckOneAsync(IFloydClient client, InstanceRecord instance, CancellationToken cancellationToken)
        {
            var endpoint = FloydEndpoint.For(instance);
            var result = new InstanceHealthResult { InstanceId = instance.InstanceId, Service = instance.Service, Host = instance.Host, Port = instance.Port };
            var clock = Stopwatch.StartNew();
            try
            {
                var health = await client.CheckHealthAsync(endpoint, cancellationToken).ConfigureAwait(false);
                result = result with { Reachable = true, Healthy = health.Healthy, AgentVersion = health.AgentVersion, Latency = clock.Elapsed };
                var status = await client.GetStatusAsync(endpoint, cancellationToken).ConfigureAwait(false);
                var service = status.Services.FirstOrDefault(s => string.Equals(s.Service, instance.Service, StringComparison.Ordinal)
                    && string.Equals(s.Instance, instance.AgentInstance, StringComparison.Ordinal));
                return result with { ActiveVersion = service?.ActiveVersion, ActiveFVersion = service?.ActiveFVersion };
            }
            catch (FloydException ex) when (!cancellationToken.IsCancellationRequested)
            {
                var failure = StepFailure.FromFloyd(ex, ex.Step.ToString().ToLowerInvariant(), endpoint);
                return result with { Reachable = result.Reachable || !ex.IsUnreachable, Healthy = false, Latency = clock.Elapsed, Error = failure.Message };
            }
        }
    }
}
