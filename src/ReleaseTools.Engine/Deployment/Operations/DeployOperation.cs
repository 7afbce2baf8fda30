using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Operations
{
    /// <summary>
    /// A deployment, in the order that fails cheapest first: parameters → package URL → signing key → instances →
    /// configs (given, or kept from the last release) → released-bytes check → leases → package (downloaded once,
    /// checksum checked, compared with the bytes released under the same version) → fversions → record → batches.
    /// </summary>
    internal sealed class DeployOperation
    {
        private readonly EngineServices _services;

        public DeployOperation(EngineServices services)
        {
            _services = services;
        }

        public async Task<DeploymentSummary> RunAsync(DeploymentRequest request, IDeploymentObserver? observer, CancellationToken cancellationToken)
        {
            var settings = request.Settings;
            var events = new EventPublisher(observer);
            var valid = ValidatedDeployment.From(request);
            var location = valid.Location;
            var instanceIds = valid.InstanceIds;
            // The signing key first: a key that cannot sign stops the run before any request leaves this machine.
            using var client = _services.CreateClient(settings);
            await _services.Packages.ProbeAsync(location, cancellationToken).ConfigureAwait(false);

            await _services.RecoverInterruptedAsync(cancellationToken).ConfigureAwait(false);
            var instances = await InstanceResolver.ResolveAsync(_services.Store, instanceIds, cancellationToken).ConfigureAwait(false);

            var configs = await DeployReleases.ResolveConfigsAsync(_services.Store, instances.Values, valid.Renderer, request.Config, request.Version, events,
                cancellationToken).ConfigureAwait(false);
            var services = instances.Values.Select(i => i.Service).ToList();
            if (valid.Checksum != null)
            {
                // The expected MD5 is known already: a conflict with the released bytes costs no download.
                await ReleasedPackages.CheckAsync(_services.Store, services, request.Version, valid.Checksum, request.AllowChecksumChange, cancellationToken)
                    .ConfigureAwait(false);
            }

            await _services.Leases.EnsureFreeAsync(instanceIds, settings.LeaseWait, cancellationToken).ConfigureAwait(false);
            var package = await _services.Packages.AcquireAsync(location, valid.Checksum, EngineServices.ProgressTo(events, location.Original), cancellationToken,
                request.SkipPackageContentCheck)
                .ConfigureAwait(false);
            var replaced = await ReleasedPackages.CheckAsync(_services.Store, services, request.Version, package.Md5, request.AllowChecksumChange, cancellationToken)
                .ConfigureAwait(false);
            foreach (var line in replaced)
            {
                events.Warn(line);
            }

            var releases = DeployReleases.Build(configs, request.Version, PackageSupply.Ready(package,
                ct => _services.Packages.AcquireAsync(location, package.Md5, EngineServices.ProgressTo(events, location.Original), ct, request.SkipPackageContentCheck),
                events.Warn));
            await DeployReleases.SaveSnapshotsAsync(_services.Store, releases.Values, cancellationToken).ConfigureAwait(false);
            var targets = DeployReleases.Targets(valid.Batches, instances,
                (instance, batch) => new TargetWork(instance, batch, releases[(instance.Service, instance.Environment)]));

            var parameters = RunParameters.For(settings, request.AllowLocalPackage, releases.Values);
            var deployment = RunLauncher.Describe(DeploymentOperation.Deploy, settings, targets.SelectMany(b => b), request.Version, parameters, null);
            return await _services.Launcher.LaunchAsync(deployment, targets, settings, client.Client, events, _services.HistoryResolver(events), cancellationToken,
                replaced.Select(line => ("package-replaced", line)).ToList()).ConfigureAwait(false);
        }
    }
}
