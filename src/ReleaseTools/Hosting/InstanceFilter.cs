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
    /// The one meaning of -Service, -Environment and -InstanceId for every cmdlet: several values match any of them,
    /// each value may hold wildcards (* ? [ ]), matching ignores case, and the filters combine with AND. Literal values go
    /// to the store's indexed query; a wildcard filters what the store returns. When nothing matches, the filter that
    /// matched nothing is named.
    /// </summary>
    internal sealed class InstanceFilter
    {
        private readonly Criterion _services;
        private readonly Criterion _environments;
        private readonly Criterion _instanceIds;

        public InstanceFilter(string[]? services, string[]? environments, string[]? instanceIds, string? version = null)
        {
            _services = new Criterion("-Service", services, i => i.Service);
            _environments = new Criterion("-Environment", environments, i => i.Environment);
            _instanceIds = new Criterion("-InstanceId", instanceIds, i => i.InstanceId);
            Version = version;
        }

        public string? Version { get; }

        public bool IsEmpty => _services.Values is null && _environments.Values is null && _instanceIds.Values is null && Version is null;

        private IEnumerable<Criterion> Criteria => new[] { _services, _environments, _instanceIds };

        /// <summary>The registered instances that pass every filter.</summary>
        public async Task<IReadOnlyList<InstanceRecord>> FindAsync(IReleaseStore store, CancellationToken cancellationToken)
        {
            var query = new InstanceQuery
            {
                Services = _services.Literals,
                Environments = _environments.Literals,
                InstanceIds = _instanceIds.Literals,
                Version = Version,
            };
            var found = await store.FindInstancesAsync(query, cancellationToken).ConfigureAwait(false);
            return found.Where(i => Criteria.All(c => c.Matches(i))).ToList();
        }

        /// <summary>"No registered instance matches ...", naming each filter that on its own matches nothing.</summary>
        public async Task<string> DescribeNoMatchAsync(IReleaseStore store, CancellationToken cancellationToken)
        {
            var given = Criteria.Where(c => c.Values is not null).ToList();
            var described = string.Join(" ", given.Select(c => c.Describe()).Concat(Version is null ? Array.Empty<string>() : new[] { $"-Version '{Version}'" }));
            var empty = new List<string>();
            foreach (var criterion in given)
            {
                var alone = await store.FindInstancesAsync(criterion.AloneQuery(), cancellationToken).ConfigureAwait(false);
                if (!alone.Any(criterion.Matches))
                {
                    empty.Add(criterion.Describe());
                }
            }

            var why = empty.Count > 0
                ? $"{string.Join(" and ", empty)} {(empty.Count == 1 ? "matches" : "match")} no registered instance"
                : "each filter matches some instances, but no instance matches all of them";
            return $"No registered instance matches {described} in the store {store.Location}: {why}. " +
                "Get-ServiceInstance lists what is registered (wildcards such as 'web*' are accepted).";
        }

        private sealed class Criterion
        {
            private readonly Func<InstanceRecord, string> _property;
            private readonly WildcardPattern[]? _patterns;

            public Criterion(string parameter, string[]? values, Func<InstanceRecord, string> property)
            {
                Parameter = parameter;
                Values = values is { Length: > 0 } ? values : null;
                _property = property;
                if (Values is not null && Values.Any(WildcardPattern.ContainsWildcardCharacters))
                {
                    _patterns = Values.Select(v => WildcardPattern.Get(v, WildcardOptions.IgnoreCase)).ToArray();
                }
            }

            public string Parameter { get; }
            public string[]? Values { get; }

            /// <summary>The values the store can filter on itself (none when any value is a pattern).</summary>
            public IReadOnlyList<string>? Literals => _patterns is null ? Values : null;

            public bool Matches(InstanceRecord instance) => _patterns is null || _patterns.Any(p => p.IsMatch(_property(instance)));

            public InstanceQuery AloneQuery() => Parameter switch
            {
                "-Service" => new InstanceQuery { Services = Literals },
                "-Environment" => new InstanceQuery { Environments = Literals },
                _ => new InstanceQuery { InstanceIds = Literals },
            };

            public string Describe() => $"{Parameter} {string.Join(", ", Values!.Select(v => $"'{v}'"))}";
        }
    }
}
