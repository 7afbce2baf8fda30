using System;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// What the agent said about installing and starting the release on one instance: whether the health gate passed,
    /// which hook or check failed, the agent's details (with the command's last output) and the release it went back to.
    /// </summary>
    internal sealed record ActivationOutcome
    {
        /// <summary>True: the gate passed; false: it failed; null: the service has no gate, or activation stopped before it.</summary>
        public bool? HealthGatePassed { get; init; }
        /// <summary>The agent's failed step: unpack, beforeActivate, activate, afterActivate or healthCheck.</summary>
        public string? FailedCheck { get; init; }
        public string? AgentDetail { get; init; }
        /// <summary>The version the agent reverted to (it serves again), or null.</summary>
        public string? RevertedTo { get; init; }

        public static ActivationOutcome FromSuccess(ActivationResult result) => new ActivationOutcome
        {
            HealthGatePassed = string.Equals(result.HealthCheck, "passed", StringComparison.Ordinal) ? true : (bool?)null,
        };

        public static ActivationOutcome FromFailure(ActivationFailureReport report)
        {
            var detail = report.Detail;
            if (!string.IsNullOrWhiteSpace(report.Output))
            {
                detail += Environment.NewLine + report.Output.TrimEnd();
            }

            if (!string.IsNullOrEmpty(report.RevertDetail))
            {
                detail += Environment.NewLine + "Going back failed: " + report.RevertDetail;
            }

            return new ActivationOutcome
            {
                HealthGatePassed = report.FailedStep == "healthCheck" ? false : (bool?)null,
                FailedCheck = report.FailedStep,
                AgentDetail = detail,
                RevertedTo = report.Reverted ? report.ActiveVersion : null,
            };
        }
    }
}
