using System;
using System.Linq;
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

        public static ErrorRecord FromLifecycleException(Engine.Lifecycle.LifecycleException exception)
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
                StoreErrorIds.StoreNotEmpty or StoreErrorIds.WebhookExists => ErrorCategory.ResourceExists,
                StoreErrorIds.WebhookNotFound => ErrorCategory.ObjectNotFound,
                StoreErrorIds.BackupFileUnavailable or StoreErrorIds.StoreFull => ErrorCategory.WriteError,
                StoreErrorIds.StoreReadOnly => ErrorCategory.PermissionDenied,
                StoreErrorIds.StoreAccessDenied => ErrorCategory.PermissionDenied,
                _ => ErrorCategory.OpenError,
            },
            exception.Path ?? target);

        /// <summary>True for the outcomes that are failures of the instance (reported as non-terminating errors).</summary>
        public static bool IsFailure(TargetStatus status) => status == TargetStatus.Failed || status == TargetStatus.Unreachable;

        /// <summary>
        /// A failed instance as a non-terminating error: the message says what failed and why (once), the recommended
        /// action says what to do (once). PowerShell shows both; scripts read either.
        /// </summary>
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
                EngineErrorIds.FloydSignatureAlgorithmMismatch => ErrorCategory.SecurityError,
                EngineErrorIds.FloydChecksumRejected => ErrorCategory.InvalidData,
                EngineErrorIds.InstanceVerifyFailed => ErrorCategory.InvalidResult,
                EngineErrorIds.NoPreviousRelease => ErrorCategory.ObjectNotFound,
                EngineErrorIds.ReleaseNotInHistory => ErrorCategory.ObjectNotFound,
                EngineErrorIds.DeploymentCancelled => ErrorCategory.OperationStopped,
                EngineErrorIds.ActivationHookFailed => ErrorCategory.InvalidResult,
                EngineErrorIds.HealthCheckFailed => ErrorCategory.InvalidResult,
                EngineErrorIds.ActivationRevertFailed => ErrorCategory.InvalidResult,
                EngineErrorIds.PackageRejectedByAgent => ErrorCategory.SecurityError,
                EngineErrorIds.AgentInstanceUnsupported => ErrorCategory.NotImplemented,
                _ => ErrorCategory.InvalidOperation,
            };
        }

        private static string Describe(TargetResult result)
        {
            var verb = result.Operation == DeploymentOperation.Rollback ? "Rollback" : "Deployment";
            var release = string.Join(" ", new[] { result.Service, result.ToVersion }.Where(part => !string.IsNullOrEmpty(part)));
            var attempts = result.Attempts > 1 ? $" after {result.Attempts} attempts" : "";
            var error = string.IsNullOrEmpty(result.Error) ? "The engine reported no detail." : MessageText.Sentence(result.Error!);
            return $"{verb} of {release} to instance '{result.InstanceId}' failed{attempts}: {error}";
        }

        /// <summary>The one thing to do, by error id; then, when retrying can help, how to retry only what failed.</summary>
        private static string Recommend(TargetResult result)
        {
            var resume = $"then run 'Resume-Deployment -DeploymentId {result.DeploymentId}' to retry only the instances that did not succeed.";
            if (result.Status == TargetStatus.Unreachable || result.ErrorId == EngineErrorIds.InstanceUnreachable)
            {
                return $"Start the agent, or correct its address with Register-ServiceInstance ('Test-ServiceInstance -InstanceId {result.InstanceId}' shows when it answers), {resume}";
            }

            return result.ErrorId switch
            {
                EngineErrorIds.FloydSignatureAlgorithmMismatch =>
                    $"Pass the agent's hash algorithm with -SignatureAlgorithm (SHA1 or SHA256, as its --hash-algorithm), {resume}",
                EngineErrorIds.FloydSignatureRejected =>
                    $"Make the agent trust the public half of the key in use (-PrivateKeyPath or {PrivateKeyLocation.EnvironmentVariable}) and check that both clocks agree, {resume}",
                EngineErrorIds.NoPreviousRelease or EngineErrorIds.ReleaseNotInHistory =>
                    $"Pick a version from 'Get-InstanceVersionHistory -InstanceId {result.InstanceId}' and pass it with -Version.",
                EngineErrorIds.AgentInstanceUnsupported =>
                    $"Upgrade the agent of {result.InstanceId} to one that hosts several instances of a service, or register the instance without -AgentInstance if it is the agent's only one, {resume}",
                EngineErrorIds.ActivationRevertFailed =>
                    $"The instance may not be serving: look at the service and the agent's log on {result.InstanceId} now; the result's AgentDetail has the hook output.",
                _ when result.RevertedTo != null =>
                    $"The instance runs {result.RevertedTo} again; the result's FailedCheck and AgentDetail say what failed. Fix the release, then deploy again.",
                _ => $"Fix the cause above, {resume}",
            };
        }

        public static string StoreHint =>
            $"Check the store location (-StorePath, or the {StoreLocation.EnvironmentVariable} environment variable): a ReleaseTools store file, or a PostgreSQL server address.";
    }
}
