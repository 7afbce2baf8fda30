using System;
using System.Collections.Generic;
using System.Linq;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>
    /// What a release and its entries must be before anything is written: names the agents accept, versions, package URLs
    /// and checksums as a deployment checks them, and the store's approval policy.
    /// </summary>
    internal static class ReleaseRules
    {
        public static void ValidateRelease(NewRelease release)
        {
            if (release == null)
            {
                throw new ArgumentNullException(nameof(release));
            }

            if (string.IsNullOrWhiteSpace(release.Name))
            {
                throw Invalid("A release needs a name (-Name), for example '2026.12 payments'.", release.Name);
            }

            ValidateEnvironments(release.PreEnvironment, release.ProdEnvironment);
        }

        public static void ValidateEdit(ReleaseEdit edit)
        {
            if (edit.Name != null && string.IsNullOrWhiteSpace(edit.Name))
            {
                throw Invalid("A release's name cannot be blank.", edit.Name);
            }

            if (edit.PreEnvironment != null)
            {
                ValidateEnvironment(edit.PreEnvironment, "pre-release");
            }

            if (edit.ProdEnvironment != null)
            {
                ValidateEnvironment(edit.ProdEnvironment, "production");
            }
        }

        private static void ValidateEnvironments(string pre, string prod)
        {
            ValidateEnvironment(pre, "pre-release");
            ValidateEnvironment(prod, "production");
            if (string.Equals(pre, prod, StringComparison.OrdinalIgnoreCase))
            {
                throw Invalid($"The pre-release and production environments are both '{pre}'. A release is tried in one environment before it reaches the other: name two.", pre);
            }
        }

        private static void ValidateEnvironment(string? environment, string what)
        {
            if (!RegistrationRules.IsValidName(environment))
            {
                throw Invalid($"The {what} environment '{RegistrationRules.Printable(environment)}' is not a valid environment name " +
                    "(letters, digits, '.', '_' or '-', as instances are registered with).", environment);
            }
        }

        /// <summary>Each entry checked as a deployment would check it; the checksum normalized to lowercase hex.</summary>
        public static IReadOnlyList<ReleaseEntry> ValidateEntries(IReadOnlyList<ReleaseEntry> entries)
        {
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var valid = new List<ReleaseEntry>();
            foreach (var entry in entries)
            {
                if (entry == null || !RegistrationRules.IsValidName(entry.Service))
                {
                    throw new LifecycleException(LifecycleErrorIds.ReleaseItemInvalid, DeploymentErrorKind.InvalidArgument,
                        $"The service '{RegistrationRules.Printable(entry?.Service)}' is not a valid service name (letters, digits, '.', '_' or '-', as instances are registered with).",
                        entry?.Service);
                }

                if (!seen.Add(entry.Service))
                {
                    throw new LifecycleException(LifecycleErrorIds.ReleaseItemInvalid, DeploymentErrorKind.InvalidArgument,
                        $"Service '{entry.Service}' is named twice; a release deploys one version of each service.", entry.Service);
                }

                RequestValidator.ValidateVersion(entry.Version, $"version of {entry.Service}");
                // The same URL rules as Invoke-Deployment, so a release never freezes a URL a deployment would refuse.
                PackageLocation.Parse(entry.PackageUrl, entry.AllowLocalPackage);
                var checksum = PackageAcquirer.NormalizeChecksum(entry.Checksum);
                if (entry.ConfigKind != ReleaseConfigKind.None && (entry.ConfigContent == null || string.IsNullOrWhiteSpace(entry.ConfigFileName)))
                {
                    throw new LifecycleException(LifecycleErrorIds.ReleaseItemInvalid, DeploymentErrorKind.InvalidArgument,
                        $"The config of {entry.Service} needs its content and the file name it has on the agent.", entry.Service);
                }

                valid.Add(entry with { Checksum = checksum, Snapshots = Array.Empty<ReleaseConfigSnapshot>() });
            }

            return valid;
        }

        public static void CheckApprover(ReleaseRecord release, string approver, ReleasePolicy policy)
        {
            if (string.IsNullOrWhiteSpace(approver))
            {
                throw Invalid("An approval needs the approver's name.", approver);
            }

            if (!policy.AllowSelfApproval && string.Equals(approver, release.CreatedBy, StringComparison.OrdinalIgnoreCase))
            {
                throw new LifecycleException(LifecycleErrorIds.ReleaseSelfApprovalDenied, DeploymentErrorKind.SecurityError,
                    $"{approver} created release '{release.ReleaseId}', and this store's policy does not let a release's creator approve it. Ask another approver.",
                    release.ReleaseId);
            }

            if (policy.Approvers.Count > 0 && !policy.Approvers.Any(a => string.Equals(a, approver, StringComparison.OrdinalIgnoreCase)))
            {
                throw new LifecycleException(LifecycleErrorIds.ReleaseApproverNotAllowed, DeploymentErrorKind.SecurityError,
                    $"{approver} is not one of this store's approvers ({string.Join(", ", policy.Approvers)}); the approval was not recorded. " +
                    "Get-ReleasePolicy shows the rules.", release.ReleaseId);
            }
        }

        private static LifecycleException Invalid(string message, object? target) =>
            new LifecycleException(LifecycleErrorIds.ReleaseParameterInvalid, DeploymentErrorKind.InvalidArgument, message, target);
    }
}
