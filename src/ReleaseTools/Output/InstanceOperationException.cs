using System;

namespace ReleaseTools
{
    /// <summary>The exception inside a per-instance error record: which instance failed, at which Floyd step, under which stable error id.</summary>
    public sealed class InstanceOperationException : Exception
    {
        public InstanceOperationException(string instanceId, string? step, string errorId, string message)
            : base(message)
        {
            InstanceId = instanceId;
            Step = step;
            ErrorId = errorId;
        }

        public string InstanceId { get; }
        public string? Step { get; }
        public string ErrorId { get; }
    }
}
