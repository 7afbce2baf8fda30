using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Operations;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>Settings of the engine itself (not of one run).</summary>
    public sealed record EngineOptions
    {
        /// <summary>Where downloaded packages are cached, keyed by URL and MD5; empty uses the per-user default.</summary>
        public string PackageCacheDirectory { get; init; } = "";
        /// <summary>Largest package accepted (bytes).</summary>
        public long MaxPackageBytes { get; init; } = 8L * 1024 * 1024 * 1024;
        public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(300);
        /// <summary>How long an instance lease lasts without a heartbeat.</summary>
        public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(2);
        /// <summary>
        /// Creates the Floyd client of a run. Null (the default) loads RunSettings.PrivateKeyPath and uses the real
        /// <see cref="FloydClient"/>. The engine disposes the client at the end of the run when it is IDisposable.
        /// </summary>
        public Func<RunSettings, IFloydClient>? ClientFactory { get; init; }
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
    /// <remarks>
    /// Run-level failures (bad parameters, package URL or checksum, unusable key, unknown instances, lease conflicts)
    /// throw <see cref="DeploymentException"/> before anything is pushed. Per-instance failures never throw: they are
    /// TargetResults with Status Failed or Unreachable. A cancelled run returns a summary with Status Cancelled once
    /// it has been recorded; cancellation before the record exists throws OperationCanceledException.
    /// One engine may serve several runs at once; it is safe to share.
    /// </remarks>
    public sealed partial class DeploymentEngine : IDisposable
    {
        private readonly EngineServices _services;

        public DeploymentEngine(IReleaseStore store, EngineOptions options)
        {
            Store = store ?? throw new ArgumentNullException(nameof(store));
            Options = options ?? throw new ArgumentNullException(nameof(options));
            _services = new EngineServices(store, options);
        }

        public IReleaseStore Store { get; }
        public EngineOptions Options { get; }

        /// <summary>
        /// Throws PrivateKeyUnusable when the settings' signing key cannot sign Floyd requests; nothing is sent or recorded.
        /// A run checks its key itself; the release stages and the scanner check first, since they record a stage before any run.
        /// </summary>
        public void EnsureSigningKeyUsable(RunSettings settings)
        {
            using (_services.CreateClient(settings ?? throw new ArgumentNullException(nameof(settings))))
            {
            }
        }

        /// <summary>Dry run of a deployment (-WhatIf): read-only pings, HEAD of the package; nothing downloaded, claimed or written.</summary>
        public Task<DeploymentPlan> PlanDeploymentAsync(DeploymentRequest request, CancellationToken cancellationToken)
            => new RunPlanner(_services).PlanDeploymentAsync(Require(request), cancellationToken);

        public Task<DeploymentSummary> DeployAsync(DeploymentRequest request, IDeploymentObserver observer, CancellationToken cancellationToken)
            => new DeployOperation(_services).RunAsync(Require(request), observer, cancellationToken);

        /// <summary>Dry run of a rollback: each instance's target from its history, read-only pings.</summary>
        public Task<DeploymentPlan> PlanRollbackAsync(RollbackRequest request, CancellationToken cancellationToken)
            => new RunPlanner(_services).PlanRollbackAsync(Require(request), cancellationToken);

        public Task<DeploymentSummary> RollbackAsync(RollbackRequest request, IDeploymentObserver observer, CancellationToken cancellationToken)
            => new RollbackOperation(_services).RunAsync(Require(request), observer, cancellationToken);

        public Task<DeploymentSummary> ResumeAsync(ResumeRequest request, IDeploymentObserver observer, CancellationToken cancellationToken)
            => new ResumeOperation(_services).RunAsync(Require(request), observer, cancellationToken);

        /// <summary>
        /// The run a resume of this deployment works on: the deployment itself, or the latest run that resumed it (a resumed
        /// run is taken over by its resume). Throws DeploymentNotFound when the id is unknown.
        /// </summary>
        public async Task<DeploymentRecord> FindRunToResumeAsync(string deploymentId, CancellationToken cancellationToken) =>
            (await ResumeOperation.ResumeChainAsync(Store, deploymentId, cancellationToken).ConfigureAwait(false))[0];

        /// <summary>
        /// Marks runs whose owner is gone (its process on this host ended, its leases expired, or its leases were
        /// force-released while it runs elsewhere) as Interrupted, so every read shows them as they are.
        /// </summary>
        public Task RecoverInterruptedRunsAsync(CancellationToken cancellationToken) => _services.RecoverInterruptedAsync(cancellationToken);

        public Task<IReadOnlyList<InstanceHealthResult>> TestInstancesAsync(IReadOnlyList<string> instanceIds, RunSettings settings, CancellationToken cancellationToken)
            => TestInstancesAsync(instanceIds, settings, null, cancellationToken);

        /// <summary>
        /// Health checks that report as they go: <see cref="InstanceStepStarted"/> (step "health") when an instance is
        /// asked, <see cref="InstanceHealthChecked"/> as soon as it answered or failed; the list at the end is in input order.
        /// </summary>
        public Task<IReadOnlyList<InstanceHealthResult>> TestInstancesAsync(IReadOnlyList<string> instanceIds, RunSettings settings, IDeploymentObserver? observer, CancellationToken cancellationToken)
            => new InstanceHealthChecker(_services).CheckAsync(instanceIds ?? Array.Empty<string>(), settings ?? new RunSettings(), observer, cancellationToken);

        /// <summary>
        /// The package's MD5 (lowercase hex), acquired through the package cache as a deployment would (downloaded once,
        /// checked against <paramref name="expectedChecksum"/> when given): how a release freezes the bytes it ships.
        /// </summary>
        public async Task<string> ChecksumPackageAsync(string packageUrl, bool allowLocalPackage, string? expectedChecksum, CancellationToken cancellationToken)
        {
            var location = Packages.PackageLocation.Parse(packageUrl, allowLocalPackage);
            var package = await _services.Packages.AcquireAsync(location, Packages.PackageAcquirer.NormalizeChecksum(expectedChecksum), null, cancellationToken)
                .ConfigureAwait(false);
            return package.Md5;
        }

        /// <summary>
        /// Renders a config held in memory (a template, or a ready file) for one service, environment and version, exactly as
        /// a deployment would render it; null content gives the config that service and environment would keep (the last one
        /// deployed there, or an empty one).
        /// </summary>
        public async Task<RenderedConfig> RenderConfigAsync(ConfigSource source, string service, string environment, string version, CancellationToken cancellationToken)
        {
            var renderer = ConfigRenderer.Load(source ?? new ConfigSource());
            var instance = new InstanceRecord { InstanceId = service, Service = service, Environment = environment };
            var configs = await DeployReleases.ResolveConfigsAsync(Store, new[] { instance }, renderer, source ?? new ConfigSource(), version, new EventPublisher(null),
                cancellationToken).ConfigureAwait(false);
            return configs[(service, environment)]!;
        }

        public void Dispose() => _services.Dispose();

        private static T Require<T>(T request) where T : class =>
            request ?? throw new DeploymentException(EngineErrorIds.InvalidParameter, DeploymentErrorKind.InvalidArgument, "A request is required.");
    }
}
