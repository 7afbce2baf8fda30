using System;
using System.Collections.Generic;
using System.Linq;
using ReleaseTools.Engine.Deployment.Execution;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>Parameter checks every run makes before any file, network or store access.</summary>
    internal static class RequestValidator
    {
        public static void ValidateSettings(RunSettings settings)
        {
            if (settings == null)
            {
                throw Invalid("Run settings are required.");
            }

            if (settings.ThrottleLimit < 1)
            {
                throw Invalid($"The throttle limit must be at least 1 (it was {settings.ThrottleLimit}).");
            }

            if (settings.RetryPolicy.MaxAttempts < 1)
            {
                throw Invalid($"The number of tries must be at least 1 (it was {settings.RetryPolicy.MaxAttempts}).");
            }

            if (settings.RetryPolicy.InitialDelay < TimeSpan.Zero || settings.RetryPolicy.BackoffFactor < 1)
            {
                throw Invalid("The retry delay must not be negative and the backoff factor must be at least 1.");
            }

            if (settings.LeaseWait.HasValue && settings.LeaseWait.Value < TimeSpan.Zero)
            {
                throw Invalid("The lease wait must not be negative.");
            }

            FailurePolicyEvaluator.Validate(settings.FailurePolicy);
        }

        /// <summary>
        /// A version as Floyd agents accept it (docs/floyd-protocol.md section 4), checked here so a typo stops the run
        /// before any request instead of failing every instance at the agent.
        /// </summary>
        public static void ValidateVersion(string? version, string what)
        {
            if (VersionRules.Problem(version, what) is { } problem)
            {
                throw new DeploymentException(EngineErrorIds.VersionInvalid, DeploymentErrorKind.InvalidArgument, problem, version);
            }
        }

        public static IReadOnlyList<string> RequireInstances(IReadOnlyList<string>? instanceIds, BatchLayout layout)
        {
            var ids = BatchPlanner.Distinct(instanceIds ?? Array.Empty<string>());
            if (ids.Count == 0 && layout.ExplicitBatches != null)
            {
                ids = BatchPlanner.Distinct(layout.ExplicitBatches.SelectMany(b => b ?? Array.Empty<string>()));
            }

            if (ids.Count == 0)
            {
                throw Invalid("No instances were given. Pass the ids of the instances to work on.");
            }

            return ids;
        }

        public static DeploymentException Invalid(string message) =>
            new DeploymentException(EngineErrorIds.InvalidParameter, DeploymentErrorKind.InvalidArgument, message);
    }
}
