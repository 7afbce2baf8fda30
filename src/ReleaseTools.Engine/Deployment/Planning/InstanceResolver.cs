using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>Looks instances up in the registry (host, port, service, environment); every unknown id is named at once.</summary>
    internal static class InstanceResolver
    {
        public static async Task<IReadOnlyDictionary<string, InstanceRecord>> ResolveAsync(IReleaseStore store, IReadOnlyList<string> instanceIds,
            CancellationToken cancellationToken)
        {
            var found = await store.FindInstancesAsync(new InstanceQuery { InstanceIds = instanceIds }, cancellationToken).ConfigureAwait(false);
            var byId = new Dictionary<string, InstanceRecord>(StringComparer.Ordinal);
            foreach (var instance in found)
            {
                byId[instance.InstanceId] = instance;
            }

            var missing = instanceIds.Where(id => !byId.ContainsKey(id)).ToList();
            if (missing.Count > 0)
            {
                throw new DeploymentException(EngineErrorIds.InstanceNotFound, DeploymentErrorKind.ObjectNotFound,
                    $"{(missing.Count == 1 ? "Instance" : "Instances")} {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} not registered in the store {store.Location}. " +
                    "Register them first (Register-ServiceInstance) or check the ids.",
                    missing.Count == 1 ? (object)missing[0] : missing.ToArray());
            }

            return byId;
        }
    }
}
