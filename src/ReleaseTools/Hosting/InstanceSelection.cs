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
    /// With nothing collected, the -Service / -Environment selectors choose instances from the store.
    /// </summary>
    internal sealed class InstanceSelection
    {
        private readonly List<string> _ids = new List<string>();
        private readonly HashSet<string> _seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

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
                Add(new[] { property.Value.ToString()! });
            }
        }

        /// <summary>The collected ids, or the store's instances matching the selectors when none were collected (empty when no selector either).</summary>
        public async Task<IReadOnlyList<string>> ResolveAsync(IReleaseStore store, string[]? services, string[]? environments, CancellationToken cancellationToken)
        {
            if (_ids.Count > 0 || (services is null && environments is null))
            {
                return _ids;
            }

            var instances = await store.FindInstancesAsync(new InstanceQuery { Services = services, Environments = environments }, cancellationToken).ConfigureAwait(false);
            return instances.Select(i => i.InstanceId).ToList();
        }
    }
}
