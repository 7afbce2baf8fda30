using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>Settings of the engine itself (not of one run).</summary>
    public sealed record EngineOptions
    {
        /// <summary>Where downloaded packages are cached, keyed by URL and MD5.</summary>
        public string PackageCacheDirectory { get; init; } = "";
        /// <summary>Largest package accepted (bytes).</summary>
        public long MaxPackageBytes { get; init; } = 8L * 1024 * 1024 * 1024;
        public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(300);
        /// <summary>How long an instance lease lasts without a heartbeat.</summary>
        public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(2);
    }

    /// <summary>Result of an agent health check for one instance.</summary>
    public sealed record InstanceHealthResult
    {
        public string InstanceId { get; init; } = "";
        public string Service { get; init; } = "";
        public string Host { get; init; } = "";
        public int Port { get; init; }
        public bool Reachable { get; init; }
        public bool Healthy { get; init; }
        public string? ActiveVersion { get; init; }
        public string? ActiveFVersion { get; init; }
        public string? AgentVersion { get; init; }
        public TimeSpan Latency { get; init; }
        public string? Error { get; init; }
    }

    /// <summary>
    /// Runs deployments, rollbacks and resumes over sets of instances: validate, acquire the package once,
    /// plan batches, then per instance ping → package (if needed) → config (if needed) → activate → verify,
    /// writing every state change to the store and publishing events as it goes.
    /// </summary>
    public sealed partial class DeploymentEngine : IDisposable
    {
        public DeploymentEngine(IReleaseStore store, EngineOptions options)
        {
            Store = store ?? throw new ArgumentNullException(nameof(store));
            Options = options ?? throw new ArgumentNullException(nameof(options));
        }

        public IReleaseStore Store { get; }
        public EngineOptions Options { get; }

        public Task<DeploymentPlan> PlanDeploymentAsync(DeploymentRequest request, CancellationToken cancellationToken)
            => throw new NotImplementedException();

        public Task<DeploymentSummary> DeployAsync(DeploymentRequest request, IDeploymentObserver observer, CancellationToken cancellationToken)
            => throw new NotImplementedException();

        public Task<DeploymentPlan> PlanRollbackAsync(RollbackRequest request, CancellationToken cancellationToken)
            => throw new NotImplementedException();

        public Task<DeploymentSummary> RollbackAsync(RollbackRequest request, IDeploymentObserver observer, CancellationToken cancellationToken)
            => throw new NotImplementedException();

        public Task<DeploymentSummary> ResumeAsync(ResumeRequest request, IDeploymentObserver observer, CancellationToken cancellationToken)
            => throw new NotImplementedException();

        public Task<IReadOnlyList<InstanceHealthResult>> TestInstancesAsync(IReadOnlyList<string> instanceIds, RunSettings settings, CancellationToken cancellationToken)
            => throw new NotImplementedException();

        public void Dispose()
        {
        }
    }
}
