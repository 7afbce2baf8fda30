using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>
    /// The releases of a deployment: one per (service, environment) among its instances, each with its rendered
    /// config and the fversion that config gives.
    /// </summary>
    internal static class DeployReleases
    {
        /// <summary>Config identity used in the fversion when a run sends no config: the MD5 of no bytes.</summary>
        public static readonly string NoConfigDigest = Md5Hex.Of(Array.Empty<byte>());

        /// <summary>
        /// Each (service, environment)'s config, once; done before the download so a template error costs no transfer. With
        /// no config source, the config last deployed to that service and environment is kept (a redeploy must not swap the
        /// running config for an empty one); <see cref="ConfigSource.Empty"/> or a first release sends an empty config.
        /// </summary>
        public static async Task<IReadOnlyDictionary<(string Service, string Environment), RenderedConfig?>> ResolveConfigsAsync(IReleaseStore store,
            IEnumerable<InstanceRecord> instances, ConfigRenderer renderer, ConfigSource source, string version, EventPublisher events, CancellationToken cancellationToken)
        {
            var configs = new Dictionary<(string, string), RenderedConfig?>();
            foreach (var instance in instances)
            {
                var key = (instance.Service, instance.Environment);
                if (configs.ContainsKey(key))
                {
                    continue;
                }

                if (renderer.HasConfig)
                {
                    configs[key] = renderer.Render(instance.Service, instance.Environment, version);
                    continue;
                }

                var kept = source.Empty ? null : await LastDeployedConfigAsync(store, instance.Service, instance.Environment, cancellationToken).ConfigureAwait(false);
                var config = kept ?? renderer.Render(instance.Service, instance.Environment, version) with
                {
                    Origin = source.Empty ? "empty, as asked (-NoConfig)" : "empty: no config given and none was deployed before",
                };
                events.Note($"{instance.Service}/{instance.Environment}: config {config.FileName}, {config.Origin}.");
                configs[key] = config;
            }

            return configs;
        }

        private static async Task<RenderedConfig?> LastDeployedConfigAsync(IReleaseStore store, string service, string environment, CancellationToken cancellationToken)
        {
            var last = (await store.FindHistoryAsync(new HistoryQuery { Service = service, Environment = environment, Limit = 1 }, cancellationToken).ConfigureAwait(false))
                .FirstOrDefault();
            if (last == null || string.IsNullOrEmpty(last.ConfigDigest))
            {
                return null;
            }

            var content = await store.GetConfigSnapshotAsync(last.ConfigDigest!, cancellationToken).ConfigureAwait(false)
                ?? throw new DeploymentException(EngineErrorIds.ConfigSnapshotMissing, DeploymentErrorKind.ObjectNotFound,
                    $"No config was given, and the config last deployed to {service}/{environment} (digest {last.ConfigDigest}, by {last.DeploymentId}) " +
                    "is no longer in the store to keep. Pass the config to use (-ConfigPath), or ask for an empty one (-NoConfig).", service);
            return new RenderedConfig
            {
                FileName = last.ConfigFileName ?? ConfigRenderer.EmptyConfigFileName,
                Content = content,
                Digest = last.ConfigDigest!,
                Origin = $"kept: the config last deployed to {service}/{environment} (with {last.Version} by {last.DeploymentId})",
            };
        }

        public static IReadOnlyDictionary<(string Service, string Environment), ReleaseSpec> Build(
            IReadOnlyDictionary<(string Service, string Environment), RenderedConfig?> configs, string version, PackageSupply package)
        {
            var releases = new Dictionary<(string, string), ReleaseSpec>();
            foreach (var pair in configs)
            {
                var (service, environment) = pair.Key;
                releases[pair.Key] = new ReleaseSpec(service, environment, version, ComputeFVersion(service, environment, version, pair.Value), package, pair.Value);
            }

            return releases;
        }

        public static string ComputeFVersion(string service, string environment, string version, RenderedConfig? config)
        {
            try
            {
                return FVersion.Compute(service, environment, version, config?.Digest ?? NoConfigDigest);
            }
            catch (ArgumentException ex)
            {
                throw new DeploymentException(EngineErrorIds.InvalidParameter, DeploymentErrorKind.InvalidData,
                    $"Cannot compute the fversion of {service}/{environment} {version}: {ex.Message}", service, ex);
            }
        }

        /// <summary>Keeps each config's bytes under its digest, so a rollback or resume restores exactly this config.</summary>
        public static async Task SaveSnapshotsAsync(IReleaseStore store, IEnumerable<ReleaseSpec> releases, CancellationToken cancellationToken)
        {
            foreach (var config in releases.Where(r => r.Config != null).Select(r => r.Config!).GroupBy(c => c.Digest).Select(g => g.First()))
            {
                await store.SaveConfigSnapshotAsync(config.Digest, config.FileName, config.Content, cancellationToken).ConfigureAwait(false);
            }
        }

        public static IReadOnlyList<IReadOnlyList<TargetWork>> Targets(IReadOnlyList<IReadOnlyList<string>> batches,
            IReadOnlyDictionary<string, InstanceRecord> instances, Func<InstanceRecord, int, TargetWork> create)
        {
            var result = new List<IReadOnlyList<TargetWork>>(batches.Count);
            for (var i = 0; i < batches.Count; i++)
            {
                var number = i + 1;
                result.Add(batches[i].Select(id => create(instances[id], number)).ToList());
            }

            return result;
        }
    }
}
