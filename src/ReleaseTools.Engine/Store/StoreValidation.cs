using System;

namespace ReleaseTools.Engine.Store
{
    /// <summary>Argument checks and not-found errors that every store implementation raises with the same words.</summary>
    internal static class StoreValidation
    {
        public static void Validate(InstanceRegistration registration)
        {
            if (registration == null)
            {
                throw new ArgumentNullException(nameof(registration));
            }

            if (RegistrationRules.Check(registration) is { } problem)
            {
                throw new ArgumentException(problem.Message, nameof(registration));
            }
        }

        public static void Validate(WebhookRegistration webhook)
        {
            if (webhook == null)
            {
                throw new ArgumentNullException(nameof(webhook));
            }

            if (WebhookRules.Check(webhook) is { } problem)
            {
                throw new ArgumentException(problem.Message, nameof(webhook));
            }
        }

        public static void Validate(NewWebhookDelivery delivery)
        {
            if (delivery == null)
            {
                throw new ArgumentNullException(nameof(delivery));
            }

            if (string.IsNullOrEmpty(delivery.Webhook) || string.IsNullOrEmpty(delivery.NoticeId))
            {
                throw new ArgumentException("A webhook delivery names its webhook and its notice.", nameof(delivery));
            }
        }

        public static StoreException WebhookExists(string name, string location) =>
            new StoreException(StoreErrorIds.WebhookExists,
                $"A webhook named '{name}' is already registered in the store '{location}'. Pass -Force to replace it, or choose another name.", location);

        public static void ValidateClaim(LeaseOwner owner, System.Collections.Generic.IReadOnlyList<string> instanceIds, TimeSpan leaseDuration)
        {
            if (owner == null)
            {
                throw new ArgumentNullException(nameof(owner));
            }

            if (string.IsNullOrEmpty(owner.DeploymentId))
            {
                throw new ArgumentException("A lease owner needs a DeploymentId.", nameof(owner));
            }

            if (instanceIds == null)
            {
                throw new ArgumentNullException(nameof(instanceIds));
            }

            if (leaseDuration <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(leaseDuration), leaseDuration, "A lease must last longer than zero.");
            }
        }

        public static void ValidateOutcome(ReleaseOutcome outcome, string parameterName)
        {
            if (outcome.TargetStatus != TargetStatus.Succeeded && outcome.TargetStatus != TargetStatus.Unchanged && outcome.TargetStatus != TargetStatus.RolledBack)
            {
                throw new ArgumentException(
                    $"A release outcome records a target that reached a release (Succeeded, Unchanged or RolledBack), not {outcome.TargetStatus}; use UpdateTargetAsync for that.", parameterName);
            }
        }

        public static StoreException InstanceNotFound(string instanceId, string location) =>
            new StoreException(StoreErrorIds.InstanceNotFound,
                $"Instance '{instanceId}' is not registered in the store '{location}'. Register it first (Register-ServiceInstance), or check the id.", location);

        public static StoreException DeploymentNotFound(string deploymentId, string location) =>
            new StoreException(StoreErrorIds.DeploymentNotFound,
                $"Deployment '{deploymentId}' is not in the store '{location}'. List deployments with Get-ReleaseDeployment to find its id.", location);

        public static StoreException TargetNotFound(string deploymentId, string instanceId, string location) =>
            new StoreException(StoreErrorIds.DeploymentTargetNotFound,
                $"Instance '{instanceId}' is not a target of deployment '{deploymentId}' in the store '{location}'.", location);
    }
}
