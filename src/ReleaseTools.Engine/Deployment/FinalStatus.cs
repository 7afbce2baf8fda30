using System.Collections.Generic;
using System.Linq;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>
    /// The status a finished run gets: cancelled if it was cancelled; failed if the failure policy stopped it or
    /// nothing reached its release; partially-succeeded if it went through with tolerated failures; else succeeded.
    /// </summary>
    internal static class FinalStatus
    {
        public static DeploymentStatus Compute(bool cancelled, bool stoppedByPolicy, IReadOnlyCollection<TargetStatus> targets)
        {
            if (cancelled)
            {
                return DeploymentStatus.Cancelled;
            }

            if (stoppedByPolicy)
            {
                return DeploymentStatus.Failed;
            }

            var good = targets.Count(s => s == TargetStatus.Succeeded || s == TargetStatus.Unchanged);
            if (good == targets.Count)
            {
                return DeploymentStatus.Succeeded;
            }

            return good > 0 ? DeploymentStatus.PartiallySucceeded : DeploymentStatus.Failed;
        }
    }
}
