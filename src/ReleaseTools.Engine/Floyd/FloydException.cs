using System;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// A Floyd request failed. Carries the instance, the step, the HTTP status and the agent's own error code and
    /// message; never the key or the signature.
    /// </summary>
    public sealed class FloydException : Exception
    {
        public FloydException(string instanceId, FloydStep step, string message, int? statusCode = null,
            string? agentErrorCode = null, string? agentMessage = null, bool isTransient = false, bool isUnreachable = false,
            Exception? innerException = null)
            : base(message, innerException)
        {
            InstanceId = instanceId;
            Step = step;
            StatusCode = statusCode;
            AgentErrorCode = agentErrorCode;
            AgentMessage = agentMessage;
            IsTransient = isTransient;
            IsUnreachable = isUnreachable;
        }

        public string InstanceId { get; }
        public FloydStep Step { get; }
        /// <summary>HTTP status, or null when no response arrived.</summary>
        public int? StatusCode { get; }
        /// <summary>The agent's machine-readable error code from its JSON error body (e.g. "signature_invalid").</summary>
        public string? AgentErrorCode { get; }
        public string? AgentMessage { get; }
        /// <summary>Worth retrying: connection failure, timeout, 5xx. Never true for a signature or MD5 rejection.</summary>
        public bool IsTransient { get; }
        /// <summary>No answer at all from the agent (refused, unresolvable, timed out before a response).</summary>
        public bool IsUnreachable { get; }
        /// <summary>The agent's report when an activation failed (hook, health gate, unsafe package); null otherwise.</summary>
        public ActivationFailureReport? Activation { get; init; }
        /// <summary>Nothing was sent because the package file's bytes no longer match the MD5 they were checked against.</summary>
        public bool PackageFileChanged { get; init; }
    }
}
