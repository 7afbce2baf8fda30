using System;
using System.Collections.Generic;
using System.Linq;

namespace ReleaseTools.Engine.Deployment
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

        public static void ValidateVersion(string? version, string what)
        {
            if (string.IsNullOrWhiteSpace(version))
            {
                throw Invalid($"A {what} is required.");
            }

            if (version!.Trim() != version || version.IndexOfAny(new[] { '\r', '\n', '/', '\\' }) >= 0 || version.Contains(".."))
            {
                throw Invalid($"The {what} '{version}' contains characters a version cannot have (leading or trailing spaces, line breaks, slashes or '..').");
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
