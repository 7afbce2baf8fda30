using System;
using System.Collections.Generic;
using System.Linq;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>Splits a run's instances into ordered batches: a batch size, explicit lists, or one batch.</summary>
    internal static class BatchPlanner
    {
        /// <summary>Instance ids in the order given, each once (pipeline input often repeats an instance).</summary>
        public static IReadOnlyList<string> Distinct(IEnumerable<string> instanceIds)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var ordered = new List<string>();
            foreach (var id in instanceIds)
            {
                var trimmed = id?.Trim();
                if (!string.IsNullOrEmpty(trimmed) && seen.Add(trimmed!))
                {
                    ordered.Add(trimmed!);
                }
            }

            return ordered;
        }

        public static IReadOnlyList<IReadOnlyList<string>> Split(IReadOnlyList<string> instanceIds, BatchLayout layout)
        {
            var ids = Distinct(instanceIds);
            if (layout.ExplicitBatches != null && layout.ExplicitBatches.Count > 0)
            {
                if (layout.BatchSize.HasValue)
                {
                    throw Invalid("Give either a batch size or explicit batches, not both.");
                }

                return FromExplicit(ids, layout.ExplicitBatches);
            }

            if (ids.Count == 0)
            {
                throw Invalid("No instances were given. Pass the instance ids to deploy to.");
            }

            if (!layout.BatchSize.HasValue)
            {
                return new[] { ids };
            }

            var size = layout.BatchSize.Value;
            if (size < 1)
            {
                throw Invalid($"The batch size must be at least 1 (it was {size}).");
            }

            var batches = new List<IReadOnlyList<string>>();
            for (var start = 0; start < ids.Count; start += size)
            {
                batches.Add(ids.Skip(start).Take(size).ToList());
            }

            return batches;
        }

        private static IReadOnlyList<IReadOnlyList<string>> FromExplicit(IReadOnlyList<string> ids, IReadOnlyList<IReadOnlyList<string>> explicitBatches)
        {
            var placed = new HashSet<string>(StringComparer.Ordinal);
            var batches = new List<IReadOnlyList<string>>();
            foreach (var batch in explicitBatches)
            {
                var members = new List<string>();
                foreach (var id in Distinct(batch ?? Array.Empty<string>()))
                {
                    if (!placed.Add(id))
                    {
                        throw Invalid($"Instance '{id}' appears in more than one batch. Put each instance in exactly one batch.");
                    }

                    members.Add(id);
                }

                if (members.Count > 0)
                {
                    batches.Add(members);
                }
            }

            if (batches.Count == 0)
            {
                throw Invalid("The explicit batches contain no instance ids.");
            }

            // With both lists given they must agree, so an instance is never silently left out or added.
            if (ids.Count > 0)
            {
                var missing = ids.Where(id => !placed.Contains(id)).ToList();
                var extra = placed.Where(id => !ids.Contains(id, StringComparer.Ordinal)).ToList();
                if (missing.Count > 0 || extra.Count > 0)
                {
                    throw Invalid("The explicit batches and the instance list differ" +
                        (missing.Count > 0 ? $"; not in any batch: {string.Join(", ", missing)}" : "") +
                        (extra.Count > 0 ? $"; only in the batches: {string.Join(", ", extra)}" : "") + ".");
                }
            }

            return batches;
        }

        private static DeploymentException Invalid(string message) =>
            new DeploymentException(EngineErrorIds.InvalidParameter, DeploymentErrorKind.InvalidArgument, message);
    }
}
