using System;
using System.Management.Automation;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Hosting
{
    /// <summary>Maps engine failures to PowerShell error records: stable id, a real category, the item as target.</summary>
    internal static class ErrorMapping
    {
        public const string InstanceFailedId = "DeploymentInstanceFailed";

        public static ErrorCategory ToCategory(DeploymentErrorKind kind) => kind switch
        {
            DeploymentErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            DeploymentErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
            DeploymentErrorKind.InvalidData => ErrorCategory.InvalidData,
            DeploymentErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
            DeploymentErrorKind.ResourceBusy => ErrorCategory.ResourceBusy,
            DeploymentErrorKind.ConnectionError => ErrorCategory.ConnectionError,
            DeploymentErrorKind.SecurityError => ErrorCategory.SecurityError,
            DeploymentErrorKind.InvalidOperation => ErrorCategory.InvalidOperation,
            DeploymentErrorKind.OperationStopped => ErrorCategory.OperationStopped,
            _ => ErrorCategory.NotSpecified,
        };

        public static ErrorRecord FromDeploymentException(DeploymentException exception)
            => new ErrorRecord(exception, exception.ErrorId, ToCategory(exception.Kind), exception.Target);

        public static ErrorRecord FromStoreException(StoreException exception, object? target) => new ErrorRecord(
            exception,
            exception.ErrorId,
            exception.ErrorId switch
            {
                StoreErrorIds.StoreCorrupt or StoreErrorIds.StoreForeign or StoreErrorIds.StoreNewerSchema => ErrorCategory.InvalidData,
                StoreErrorIds.InstanceNotFound or StoreErrorIds.DeploymentNotFound or StoreErrorIds.DeploymentTargetNotFound => ErrorCategory.ObjectNotFound,
                StoreErrorIds.SqliteNativeLoadFailed => ErrorCategory.ResourceUnavailable,
                StoreErrorIds.StoreAddressInvalid => ErrorCategory.InvalidArgument,
                StoreErrorIds.BackupCorrupt or StoreErrorIds.BackupNewerFormat => ErrorCategory.InvalidData,
                StoreErrorIds.StoreNotEmpty => ErrorCategory.ResourceExists,
                StoreErrorIds.BackupFileUnavailable => ErrorCategory.WriteError,
                StoreErrorIds.StoreAccessDenied => ErrorCategory.PermissionDenied,
                _ => ErrorCategory.OpenError,
            },
            exception.Path ?? target);

        /// <summary>True for the outcomes that are failures of the instance (reported as non-terminating errors).</summary>
        public static bool IsFailure(TargetStatus status) => status == TargetStatus.Failed || status == TargetStatus.Unreachable;

        public static ErrorRecord FromTarget(TargetResult result, object target)
        {
            var errorId = string.IsNullOrEmpty(result.ErrorId) ? InstanceFailedId : result.ErrorId!;
            var exception = new InstanceOperationException(result.InstanceId, result.FailedStep, errorId, Describe(result));
            var record = new ErrorRecord(exception, errorId, ToCategory(result), target);
            record.ErrorDetails = new ErrorDetails(exception.Message)
            {
                RecommendedAction = Recommend(result),
            };
            return record;
        }

        /// <summary>An instance a rollback refused before any run was recorded: its own id, no advice to resume (there is no run).</summary>
        public static ErrorRecord FromRefusal(InstanceRefusal refusal)
        {
            var exception = new InstanceOperationException(refusal.InstanceId, null, refusal.ErrorId, refusal.Message);
            var category = refusal.ErrorId == EngineErrorIds.RollbackTargetMoved ? ErrorCategory.InvalidOperation : ErrorCategory.ObjectNotFound;
            return new ErrorRecord(exception, refusal.ErrorId, category, refusal.InstanceId)
            {
                ErrorDetails = new ErrorDetails(refusal.Message)
                {
                    RecommendedAction = $"Get-InstanceVersionHistory -InstanceId {refusal.InstanceId} lists the releases it can go back to (Invoke-Rollback -Version).",
                },
            };
        }

        private static ErrorCategory ToCategory(TargetResult result)
        {
            if (result.Status == TargetStatus.Unreachable)
            {
                return ErrorCategory.ConnectionError;
            }

            return result.ErrorId switch
            {
                EngineErrorIds.InstanceUnreachable => ErrorCategory.ConnectionError,
                EngineErrorIds.FloydSignatureRejected => ErrorCategory.SecurityError,
                EngineErrorIds.FloydChecksumRejected => ErrorCategory.InvalidData,
                EngineErrorIds.InstanceVerifyFailed => ErrorCategory.InvalidResult,
                EngineErrorIds.NoPreviousRelease => ErrorCategory.ObjectNotFound,
                EngineErrorIds.ReleaseNotInHistory => ErrorCategory.ObjectNotFound,
                EngineErrorIds.DeploymentCancelled => ErrorCategory.OperationStopped,
                EngineErrorIds.ActivationHookFailed => ErrorCategory.InvalidResult,
                EngineErrorIds.HealthCheckFailed => ErrorCategory.InvalidResult,
                EngineErrorIds.ActivationRevertFailed => ErrorCategory.InvalidResult,
                EngineErrorIds.PackageRejectedByAgent => ErrorCategory.SecurityError,
                _ => ErrorCategory.InvalidOperation,
            };
        }

        private static string Describe(TargetResult result)
        {
            var verb = result.Operation == DeploymentOperation.Rollback ? "Rollback" : "Deployment";
            var step = string.IsNullOrEmpty(result.FailedStep) ? "" : $" at step '{result.FailedStep}'";
            var attempts = result.Attempts == 1 ? "1 attempt" : $"{result.Attempts} attempts";
            var error = string.IsNullOrEmpty(result.Error) ? "the engine reported no detail." : result.Error!.TrimEnd('.') + ".";
            var unreachable = result.Status == TargetStatus.Unreachable ? " (agent unreachable)" : "";
            return $"{verb} of {result.Service} {result.ToVersion} to instance '{result.InstanceId}' failed{unreachable}{step} after {attempts}: {error} {Recommend(result)}";
        }

        private static string Recommend(TargetResult result)
        {
            var retry = $"run 'Resume-Deployment -DeploymentId {result.DeploymentId}' to retry only the instances that did not succeed.";
            return result.Status == TargetStatus.Unreachable || result.ErrorId == EngineErrorIds.InstanceUnreachable
                ? $"Test-ServiceInstance -InstanceId {result.InstanceId} shows whether its agent answers; once it does, {retry}"
                : result.ErrorId == EngineErrorIds.FloydSignatureRejected
                    ? $"Check that the agent trusts the public half of the key in use (-PrivateKeyPath or RELEASETOOLS_PRIVATE_KEY) and the same -SignatureAlgorithm, then {retry}"
                    : result.ErrorId == EngineErrorIds.ActivationRevertFailed
                        ? $"The instance may not be serving: look at the service and the agent's log on {result.InstanceId} now; the result's AgentDetail has the hook output."
                        : result.RevertedTo != null
                            ? $"The instance runs {result.RevertedTo} again; the result's FailedCheck and AgentDetail say what failed. Fix the release, then deploy again."
                            : $"Fix the cause above, then {retry}";
        }

        public static string StoreHint =>
            $"Check the store location (-StorePath, or the {StoreLocation.EnvironmentVariable} environment variable): a ReleaseTools store file, or a PostgreSQL server address.";
    }
}
