using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Packages;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// The Floyd steps for one instance: ping → package (if needed) → config (if needed) → activate → verify.
    /// An instance that already runs the target fversion and needs nothing is left alone (unless forced).
    /// Each request is retried on transient failures; a failure is returned, never thrown, so one instance never
    /// stops another. Only cancellation escapes as OperationCanceledException.
    /// </summary>
    internal sealed class InstanceStepRunner
    {
        public const string PingStep = "ping";
        public const string PackageStep = "package";
        public const string ConfigStep = "config";
        public const string ActivateStep = "activate";
        public const string VerifyStep = "verify";
        public const string RetryWaitStep = "retry-wait";

        private readonly IFloydClient _client;
        private readonly RetryExecutor _retry;
        private readonly bool _force;
        private readonly string _message;

        /// <param name="message">Free text sent with each ping so agent logs name the run.</param>
        public InstanceStepRunner(IFloydClient client, RetryPolicy retryPolicy, bool force, string message)
        {
            _client = client;
            _retry = new RetryExecutor(retryPolicy);
            _force = force;
            _message = message;
        }

        /// <param name="onStep">Step name and try number, for progress events.</param>
        /// <param name="onUpload">Package bytes sent so far and the package size, after every chunk written to the agent.</param>
        /// <param name="beforeChange">Awaited once the ping shows the instance needs the release, before the first request that
        /// changes the agent (a push or an activation); never for an instance left alone.</param>
        public async Task<InstanceOutcome> RunAsync(FloydEndpoint endpoint, ReleaseSpec release, Action<string, int> onStep, CancellationToken cancellationToken,
            Action<long, long>? onUpload = null, Func<Task>? beforeChange = null)
        {
            var attempts = 1;
            var step = PingStep;
            var outcome = new InstanceOutcome { PackageMd5 = release.Package.Md5 };

            Task<T> Run<T>(string name, Func<CancellationToken, Task<T>> action)
            {
                step = name;
                return _retry.RunAsync(action,
                    attempt =>
                    {
                        attempts = Math.Max(attempts, attempt);
                        onStep(name, attempt);
                    },
                    (next, _) => onStep(RetryWaitStep, next),
                    cancellationToken);
            }

            try
            {
                var ping = new PingRequest
                {
                    Service = release.Service,
                    Version = release.Version,
                    FVersion = release.FVersion,
                    PackageMd5 = release.Package.Md5,
                    // The agent can then issue the package push's upload ticket with its answer (one signed round trip fewer).
                    PackageBytes = release.Package.Length,
                    Message = _message,
                };

                var before = await Run(PingStep, ct => _client.PingAsync(endpoint, ping, ct)).ConfigureAwait(false);
                outcome = outcome with { FromVersion = before.CurrentVersion, FromFVersion = before.CurrentFVersion };

                var runsTarget = string.Equals(before.CurrentFVersion, release.FVersion, StringComparison.Ordinal);
                if (runsTarget && !before.NeedPackage && !before.NeedConfig && !_force)
                {
                    return outcome with { Unchanged = true, Attempts = attempts };
                }

                if (beforeChange != null)
                {
                    await beforeChange().ConfigureAwait(false);
                }

                if (before.NeedPackage || _force)
                {
                    step = PackageStep;
                    var package = await release.Package.GetAsync(cancellationToken).ConfigureAwait(false);
                    PackagePush PushOf(AcquiredPackage acquired) => new PackagePush
                    {
                        Service = release.Service,
                        Version = release.Version,
                        FVersion = release.FVersion,
                        FilePath = acquired.FilePath,
                        FileName = acquired.FileName,
                        Md5 = acquired.Md5,
                        Md5ComputedFromFile = acquired.Md5ComputedFromFile,
                        OnBytesSent = onUpload is null ? null : sent => onUpload(sent, acquired.Length),
                    };
                    await Run(PackageStep, async ct =>
                    {
                        try
                        {
                            await _client.PushPackageAsync(endpoint, PushOf(package), ct).ConfigureAwait(false);
                        }
                        catch (FloydException ex) when (package.FromCache && (ex.PackageFileChanged || !File.Exists(package.FilePath)))
                        {
                            // The cached copy was damaged on disk (or removed) since it was filed: fetched again for the
                            // whole run, and pushed from the fresh copy, so one bad file does not fail every instance.
                            package = await release.Package.ReplaceDamagedAsync(package, ct).ConfigureAwait(false);
                            await _client.PushPackageAsync(endpoint, PushOf(package), ct).ConfigureAwait(false);
                        }

                        return true;
                    }).ConfigureAwait(false);
                    outcome = outcome with { PackageTransferred = true, PackageBytes = package.Length, PackageMd5 = package.Md5 };
                }

                if (release.Config != null && (before.NeedConfig || _force))
                {
                    var push = new ConfigPush
                    {
                        Service = release.Service,
                        Version = release.Version,
                        FVersion = release.FVersion,
                        FileName = release.Config.FileName,
                        Content = release.Config.Content,
                    };
                    await Run(ConfigStep, async ct =>
                    {
                        await _client.PushConfigAsync(endpoint, push, ct).ConfigureAwait(false);
                        return true;
                    }).ConfigureAwait(false);
                    outcome = outcome with { ConfigTransferred = true };
                }

                var activate = new ActivateRequest { Service = release.Service, Version = release.Version, FVersion = release.FVersion, Reactivate = _force };
                var activation = await Run(ActivateStep, ct => _client.ActivateAsync(endpoint, activate, ct)).ConfigureAwait(false);
                outcome = outcome with { Activation = ActivationOutcome.FromSuccess(activation) };

                var verify = ping with { PackageMd5 = outcome.PackageMd5, PackageBytes = null };
                var after = await Run(VerifyStep, ct => _client.PingAsync(endpoint, verify, ct)).ConfigureAwait(false);
                if (!string.Equals(after.CurrentFVersion, release.FVersion, StringComparison.Ordinal))
                {
                    return outcome with
                    {
                        Attempts = attempts,
                        Failure = new StepFailure(Store.TargetStatus.Failed, VerifyStep, EngineErrorIds.InstanceVerifyFailed,
                            $"After activation {endpoint.InstanceId} reports fversion '{after.CurrentFVersion ?? "(none)"}' (version '{after.CurrentVersion ?? "(none)"}') " +
                            $"instead of '{release.FVersion}' ({release.Version}). Another run may have changed it; check the agent's status."),
                    };
                }

                return outcome with { Attempts = attempts };
            }
            catch (FloydException ex) when (!cancellationToken.IsCancellationRequested)
            {
                var failure = StepFailure.FromFloyd(ex, step, endpoint);
                return outcome with { Attempts = attempts, Failure = failure, Activation = failure.Activation ?? outcome.Activation };
            }
            catch (DeploymentException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The package of a rollback target could not be fetched: this instance fails, the others go on.
                return outcome with { Attempts = attempts, Failure = StepFailure.FromRun(ex, step, endpoint) };
            }
        }
    }
}
