using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Hosting
{
    /// <summary>
    /// Collects the instances a command acts on: ids given with -InstanceId, bound by property name from pipeline
    /// objects, or whole objects through -InputObject; in first-seen order, each once.
    /// With nothing collected, the -Service / -Environment selectors choose instances from the store; every value may hold
    /// wildcards, with the meaning <see cref="InstanceFilter"/> gives them in every cmdlet.
    /// </summary>
    internal sealed class InstanceSelection
    {
        private readonly List<string> _ids = new List<string>();
        private readonly HashSet<string> _seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, string> _origins = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        public int Count => _ids.Count;

        public void Add(IEnumerable<string>? instanceIds)
        {
            if (instanceIds is null)
            {
                return;
            }

            foreach (var id in instanceIds)
            {
                if (!string.IsNullOrWhiteSpace(id) && _seen.Add(id))
                {
                    _ids.Add(id);
                }
            }
        }

        public void Add(PSObject? input)
        {
            if (input is null)
            {
                return;
            }

            if (input.BaseObject is string text)
            {
                Add(new[] { text });
                return;
            }

            var property = input.Properties["InstanceId"];
            if (property?.Value is not null)
            {
                var id = property.Value.ToString()!;
                Add(new[] { id });
                // A deployment result, a run's target or a history entry names the run that moved the instance.
                if (input.Properties["DeploymentId"]?.Value?.ToString() is { Length: > 0 } deploymentId)
                {
                    _origins[id] = deploymentId;
                }
            }
        }

        /// <summary>Instance id → the deployment named by the piped object it came from (DeploymentResult, DeploymentTarget, VersionHistoryEntry).</summary>
        public IReadOnlyDictionary<string, string> Origins => _origins;

        /// <summary>
        /// The collected ids, with any wildcard id (-InstanceId 'web-0*') expanded against the registry within the
        /// -Service/-Environment selectors; with no ids collected, the registered instances the selectors match. Empty
        /// with NoMatch saying which filter matched nothing, or empty with no message when nothing was asked for.
        /// </summary>
        public async Task<(IReadOnlyList<string> Ids, string? NoMatch)> ResolveAsync(IReleaseStore store, string[]? services, string[]? environments,
            CancellationToken cancellationToken)
        {
            var patterns = _ids.Where(WildcardPattern.ContainsWildcardCharacters).ToArray();
            if ((_ids.Count > 0 && patterns.Length == 0) || (_ids.Count == 0 && services is null && environments is null))
            {
                return (_ids, null);
            }

            var filter = new InstanceFilter(services, environments, patterns.Length > 0 ? patterns : null);
            var found = await filter.FindAsync(store, cancellationToken).ConfigureAwait(false);
            var ids = new List<string>();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var id in _ids.Where(id => !WildcardPattern.ContainsWildcardCharacters(id)).Concat(found.Select(i => i.InstanceId)))
            {
                if (seen.Add(id))
                {
                    ids.Add(id);
                }
            }

            return ids.Count > 0 ? (ids, null) : (ids, await filter.DescribeNoMatchAsync(store, cancellationToken).ConfigureAwait(false));
        }
    }
}
