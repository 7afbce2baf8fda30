using System;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Decides whether a run has passed its failure threshold. Failures are counted over the whole run, not per batch.
    /// With both limits set, failures are tolerated while they stay within either allowance (the count or the percent
    /// of all targets), so a percent limit stays meaningful when the count is left at its default of zero.
    /// </summary>
    internal static class FailurePolicyEvaluator
    {
        public static bool IsBreached(FailurePolicy policy, int failed, int unreachable, int totalTargets)
        {
            var counted = failed + (policy.CountUnreachable ? unreachable : 0);
            if (counted == 0)
            {
                return false;
            }

            var withinCount = counted <= Math.Max(0, policy.MaxFailedInstances);
            if (withinCount)
            {
                return false;
            }

            if (policy.MaxFailedPercent.HasValue && totalTargets > 0)
            {
                var percent = counted * 100.0 / totalTargets;
                return percent > policy.MaxFailedPercent.Value;
            }

            return true;
        }

        public static void Validate(FailurePolicy policy)
        {
            if (policy.MaxFailedInstances < 0)
            {
                throw new DeploymentException(EngineErrorIds.InvalidParameter, DeploymentErrorKind.InvalidArgument,
                    $"The maximum number of failed instances must be 0 or more (it was {policy.MaxFailedInstances}).");
            }

            if (policy.MaxFailedPercent.HasValue && (policy.MaxFailedPercent.Value < 0 || policy.MaxFailedPercent.Value > 100 || double.IsNaN(policy.MaxFailedPercent.Value)))
            {
                throw new DeploymentException(EngineErrorIds.InvalidParameter, DeploymentErrorKind.InvalidArgument,
                    $"The maximum failed percent must be between 0 and 100 (it was {policy.MaxFailedPercent}).");
            }
        }
    }
}
