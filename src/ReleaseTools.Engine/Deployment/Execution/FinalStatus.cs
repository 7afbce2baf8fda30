using System.Collections.Generic;
using System.Linq;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// The status a finished run gets: cancelled if it was cancelled; failed if the failure policy stopped it or
    /// nothing reached its release (superseded targets count as settled); partially-succeeded if it went through with tolerated failures; else succeeded.
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

            // A superseded target is owed no more: another run moved its instance on purpose.
            var good = targets.Count(s => s == TargetStatus.Succeeded || s == TargetStatus.Unchanged || s == TargetStatus.Superseded);
            if (good == targets.Count)
            {
                return DeploymentStatus.Succeeded;
            }

            return good > 0 ? DeploymentStatus.PartiallySucceeded : DeploymentStatus.Failed;
        }
    }
}
