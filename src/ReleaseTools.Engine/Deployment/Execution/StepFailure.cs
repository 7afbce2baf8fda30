using System;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Why one instance stopped: its status (Failed or Unreachable), the step, a stable id and the cause, in whole
    /// sentences. The cause only: what to do about it depends on the caller (the cmdlets add the fix, once, by error id).
    /// </summary>
    internal sealed record StepFailure(TargetStatus Status, string Step, string ErrorId, string Message)
    {
        /// <summary>The agent's activation report when a hook, the health gate or the unpacking failed.</summary>
        public ActivationOutcome? Activation { get; init; }

        public static StepFailure FromFloyd(FloydException ex, string step, FloydEndpoint endpoint)
        {
            var where = $"{endpoint.InstanceId} ({endpoint.Host}:{endpoint.Port})";
            // The client's messages name the agent's address; say it here only when they do not.
            var agent = ex.Message.IndexOf($"{endpoint.Host}:{endpoint.Port}", StringComparison.Ordinal) >= 0 ? "The agent" : $"The agent of {where}";
            var detail = MessageText.Sentence(ex.Message);
            if (!string.IsNullOrEmpty(ex.AgentMessage) && ex.Message.IndexOf(ex.AgentMessage!, StringComparison.Ordinal) < 0)
            {
                detail += " The agent said: " + MessageText.Sentence(ex.AgentMessage!);
            }

            if (ex.IsUnreachable)
            {
                return new StepFailure(TargetStatus.Unreachable, step, EngineErrorIds.InstanceUnreachable,
                    $"{agent} did not answer: {detail}");
            }

            if (string.Equals(ex.AgentErrorCode, FloydErrorCodes.SignatureAlgorithmMismatch, StringComparison.Ordinal))
            {
                // The agent's message names both schemes; its advice part (after ';') would repeat the caller's fix.
                var schemes = ex.AgentMessage is { Length: > 0 } said ? " " + MessageText.Sentence(said.Split(';')[0]) : "";
                return new StepFailure(TargetStatus.Failed, step, EngineErrorIds.FloydSignatureAlgorithmMismatch,
                    $"The Floyd agent of {where} refused the {step} step because it checks signatures with another hash algorithm.{schemes}");
            }

            if (string.Equals(ex.AgentErrorCode, FloydErrorCodes.AgentInstancesUnsupported, StringComparison.Ordinal))
            {
                return new StepFailure(TargetStatus.Failed, step, EngineErrorIds.AgentInstanceUnsupported, detail);
            }

            if (IsSignatureRejection(ex))
            {
                return new StepFailure(TargetStatus.Failed, step, EngineErrorIds.FloydSignatureRejected,
                    $"{agent} rejected the request signature: {detail}");
            }

            if (ActivationErrorId(ex.AgentErrorCode) is { } activationId)
            {
                return new StepFailure(TargetStatus.Failed, step, activationId,
                    $"Activation failed on {where}: {ex.AgentMessage ?? detail}")
                {
                    Activation = ex.Activation == null ? null : ActivationOutcome.FromFailure(ex.Activation),
                };
            }

            if (IsChecksumRejection(ex))
            {
                return new StepFailure(TargetStatus.Failed, step, EngineErrorIds.FloydChecksumRejected,
                    $"The Floyd agent of {where} rejected the package MD5 at the {step} step: the package was damaged on the way or changed at its source. {detail}");
            }

            return new StepFailure(TargetStatus.Failed, step, EngineErrorIds.FloydRequestFailed, detail);
        }

        public static StepFailure FromRun(DeploymentException ex, string step, FloydEndpoint endpoint) =>
            new StepFailure(TargetStatus.Failed, step, ex.ErrorId, $"The {step} step failed on {endpoint.InstanceId}. {MessageText.Sentence(ex.Message)}");

        private static string? ActivationErrorId(string? agentCode)
        {
            switch (agentCode)
            {
                case FloydErrorCodes.HookFailed: return EngineErrorIds.ActivationHookFailed;
                case FloydErrorCodes.HealthCheckFailed: return EngineErrorIds.HealthCheckFailed;
                case FloydErrorCodes.RevertFailed: return EngineErrorIds.ActivationRevertFailed;
                case FloydErrorCodes.PackageUnsafe:
                case FloydErrorCodes.PackageTooLarge:
                case FloydErrorCodes.PackageInvalid: return EngineErrorIds.PackageRejectedByAgent;
                default: return null;
            }
        }

        private static bool IsSignatureRejection(FloydException ex) =>
            ex.StatusCode == 401 || Mentions(ex.AgentErrorCode, "signature") || Mentions(ex.AgentErrorCode, "timestamp") ||
            Mentions(ex.AgentErrorCode, "replay") || Mentions(ex.AgentErrorCode, "unauthorized");

        private static bool IsChecksumRejection(FloydException ex) =>
            Mentions(ex.AgentErrorCode, "md5") || Mentions(ex.AgentErrorCode, "checksum") || Mentions(ex.AgentErrorCode, "digest");

        private static bool Mentions(string? code, string word) =>
            code != null && code.IndexOf(word, StringComparison.OrdinalIgnoreCase) >= 0;
    }
}
