namespace ReleaseTools.Engine.Deployment
{
    /// <summary>
    /// Stable error ids of the engine. Cmdlets use them as FullyQualifiedErrorId, so scripts can match on them;
    /// never change an existing value.
    /// </summary>
    public static class EngineErrorIds
    {
        // Run-level (DeploymentException) ------------------------------------------------------------
        public const string InvalidParameter = "DeploymentParameterInvalid";
        /// <summary>A version (to deploy or roll back to) that Floyd agents would refuse: empty, spaces, slashes, '..', control or non-ASCII characters.</summary>
        public const string VersionInvalid = "VersionInvalid";
        public const string PackageUrlMissing = "PackageUrlMissing";
        public const string PackageUrlInvalid = "PackageUrlInvalid";
        public const string PackageUrlUnsupportedScheme = "PackageUrlUnsupportedScheme";
        public const string PackageLocalPathNotAllowed = "PackageLocalPathNotAllowed";
        public const string PackageNotFound = "PackageNotFound";
        public const string PackageDownloadFailed = "PackageDownloadFailed";
        public const string PackageTooLarge = "PackageTooLarge";
        /// <summary>The URL answered with something that is plainly not a package (an HTML page, an empty body, a text content type).</summary>
        public const string PackageNotAPackage = "PackageNotAPackage";
        public const string PackageChecksumMismatch = "PackageChecksumMismatch";
        public const string PackageChecksumInvalid = "PackageChecksumInvalid";
        /// <summary>The package's MD5 differs from the one the store recorded for the same service and version.</summary>
        public const string PackageChecksumConflict = "PackageChecksumConflict";
        public const string PrivateKeyUnusable = "PrivateKeyUnusable";
        public const string InstanceNotFound = "InstanceNotFound";
        public const string InstanceLeaseConflict = "InstanceLeaseConflict";
        /// <summary>The run lost an instance's lease while it worked (see <see cref="Store.LeaseRenewal"/>) and stopped touching it.</summary>
        public const string InstanceLeaseLost = "InstanceLeaseLost";
        public const string ConfigSourceUnreadable = "ConfigSourceUnreadable";
        public const string ConfigPlaceholderUnknown = "ConfigPlaceholderUnknown";
        public const string ConfigSnapshotMissing = "ConfigSnapshotMissing";
        public const string DeploymentNotFound = "DeploymentNotFound";
        public const string DeploymentNotResumable = "DeploymentNotResumable";

        // Per instance (TargetResult.ErrorId) -----------------------------------------------------------
        public const string FloydSignatureRejected = "FloydSignatureRejected";
        /// <summary>The agent checks signatures with another hash algorithm (SHA1 against SHA256).</summary>
        public const string FloydSignatureAlgorithmMismatch = "FloydSignatureAlgorithmMismatch";
        public const string FloydChecksumRejected = "FloydChecksumRejected";
        public const string FloydRequestFailed = "FloydRequestFailed";
        /// <summary>The instance names an agent instance, but its agent does not announce several instances of a service: nothing was sent.</summary>
        public const string AgentInstanceUnsupported = "AgentInstanceUnsupported";
        public const string InstanceUnreachable = "InstanceUnreachable";
        public const string InstanceVerifyFailed = "InstanceVerifyFailed";
        public const string NoPreviousRelease = "NoPreviousRelease";
        public const string ReleaseNotInHistory = "ReleaseNotInHistory";
        /// <summary>A rollback of a deployment result whose instance another run has moved since.</summary>
        public const string RollbackTargetMoved = "RollbackTargetMoved";
        /// <summary>A rollback of a deployment result whose deployment never moved the instance (not an error: it is left alone).</summary>
        public const string RollbackNothingToUndo = "RollbackNothingToUndo";
        public const string DeploymentCancelled = "DeploymentCancelled";
        /// <summary>A hook of the agent failed; the agent went back to the previous release.</summary>
        public const string ActivationHookFailed = "ActivationHookFailed";
        /// <summary>The release did not pass its health gate; the agent went back to the previous release.</summary>
        public const string HealthCheckFailed = "HealthCheckFailed";
        /// <summary>Activation failed and the agent could not bring the previous release back either.</summary>
        public const string ActivationRevertFailed = "ActivationRevertFailed";
        /// <summary>The agent refused to unpack the package (unsafe entries, too large, not the archive it claims to be).</summary>
        public const string PackageRejectedByAgent = "PackageRejectedByAgent";
    }
}
