using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>What each instance of a rollback goes back to, shared by the rollback and its plan (what -WhatIf and -Confirm show).</summary>
    internal static class RollbackTargets
    {
        /// <summary>
        /// Each instance's own rollback target: -Version, else what it ran before the deployment the caller names for it
        /// (undo), else the release before its current one. An instance with none carries the reason instead of a release.
        /// </summary>
        public static async Task<IReadOnlyList<IReadOnlyList<TargetWork>>> ResolveAsync(ReleaseHistoryResolver history,
            IReadOnlyList<IReadOnlyList<string>> batches, IReadOnlyDictionary<string, InstanceRecord> instances, RollbackRequest request, CancellationToken cancellationToken)
        {
            var undo = request.Undo == null
                ? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
                : new Dictionary<string, string>(request.Undo.ToDictionary(p => p.Key, p => p.Value), StringComparer.OrdinalIgnoreCase);
            var result = new List<IReadOnlyList<TargetWork>>(batches.Count);
            for (var i = 0; i < batches.Count; i++)
            {
                var batch = new List<TargetWork>(batches[i].Count);
                foreach (var id in batches[i])
                {
                    var instance = instances[id];
                    var resolved = request.Version != null
                        ? await history.VersionAsync(instance, request.Version, cancellationToken).ConfigureAwait(false)
                        : undo.TryGetValue(id, out var deploymentId) && !string.IsNullOrEmpty(deploymentId)
                            ? await history.BeforeDeploymentAsync(instance, deploymentId, cancellationToken).ConfigureAwait(false)
                            : await history.PreviousAsync(instance, cancellationToken).ConfigureAwait(false);
                    batch.Add(new TargetWork(instance, i + 1, resolved.Release, resolved.Failure));
                }

                result.Add(batch);
            }

            return result;
        }
    }
}
