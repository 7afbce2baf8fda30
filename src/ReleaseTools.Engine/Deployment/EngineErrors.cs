using System;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>
    /// A run could not start or had to stop as a whole (bad package URL, checksum mismatch, unusable key, instances
    /// held by another run...). ErrorId is stable, e.g. PackageUrlUnsupportedScheme, PackageDownloadFailed,
    /// PackageChecksumMismatch, PrivateKeyUnusable, InstanceNotFound, InstanceLeaseConflict, DeploymentNotResumable.
    /// Category names a PowerShell-neutral kind of failure the cmdlets map to an ErrorCategory.
    /// </summary>
    public sealed class DeploymentException : Exception
    {
        public DeploymentException(string errorId, DeploymentErrorKind kind, string message, object? target = null, Exception? innerException = null)
            : base(message, innerException)
        {
            ErrorId = errorId;
            Kind = kind;
            Target = target;
        }

        public string ErrorId { get; }
        public DeploymentErrorKind Kind { get; }
        /// <summary>What the error is about: the URL, instance id, deployment id or key path.</summary>
        public object? Target { get; }
    }

    public enum DeploymentErrorKind
    {
        InvalidArgument,
        ObjectNotFound,
        InvalidData,
        ResourceUnavailable,
        ResourceBusy,
        ConnectionError,
        SecurityError,
        InvalidOperation,
        OperationStopped,
    }
}
