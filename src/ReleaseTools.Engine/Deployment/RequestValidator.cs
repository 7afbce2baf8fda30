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

        /// <summary>
        /// A version as Floyd agents accept it (docs/floyd-protocol.md section 4), checked here so a typo stops the run
        /// before any request instead of failing every instance at the agent.
        /// </summary>
        public static void ValidateVersion(string? version, string what)
        {
            if (string.IsNullOrWhiteSpace(version))
            {
                throw new DeploymentException(EngineErrorIds.VersionInvalid, DeploymentErrorKind.InvalidArgument, $"A {what} is required.", version);
            }

            if (!VersionPattern.IsMatch(version) || version!.IndexOf("..", StringComparison.Ordinal) >= 0 || !Floyd.PortableNames.IsPortable(version))
            {
                throw new DeploymentException(EngineErrorIds.VersionInvalid, DeploymentErrorKind.InvalidArgument,
                    $"The {what} '{Store.RegistrationRules.Printable(version)}' is not a version Floyd agents accept: use 1 to 100 letters, digits, " +
                    "'.', '_', '+' or '-', starting with a letter or digit, without spaces, slashes or '..', " + Floyd.PortableNames.Rule +
                    " (for example 1.5.0 or 2.0.0-rc.1+build.7).",
                    version);
            }
        }

        private static readonly System.Text.RegularExpressions.Regex VersionPattern =
            new System.Text.RegularExpressions.Regex("^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}\\z", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

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
