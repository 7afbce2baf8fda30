using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// What every ReleaseTools cmdlet shares: the -StorePath parameter, one store/engine session per invocation,
    /// cancellation wired to Ctrl+C, and the single place where engine work is awaited on the pipeline thread.
    /// Engine types appear only in members hidden from PowerShell (private protected), never in the public surface.
    /// </summary>
    public abstract class ReleaseToolsCmdlet : PSCmdlet, IDisposable
    {
        private CancellationTokenSource? _cancellation;
        private ReleaseSession? _session;
        private AzureDevOpsReporter? _azureDevOps;
        private bool _azureDevOpsChecked;

        /// <summary>
        /// The store: the path of a SQLite file, or a PostgreSQL server as a postgresql:// URL or an Npgsql connection
        /// string. Default: the RELEASETOOLS_STORE environment variable, else the per-user SQLite file
        /// (%LOCALAPPDATA%\ReleaseTools\releasetools.db, ~/.local/share/ReleaseTools/releasetools.db).
        /// </summary>
        [Parameter]
        [Alias("Store")]
        [ValidateNotNullOrEmpty]
        public string? StorePath { get; set; }

        private protected CancellationToken CancellationToken => (_cancellation ??= new CancellationTokenSource()).Token;

        private protected ReleaseSession Session
        {
            get
            {
                if (_session is null)
                {
                    RefuseUnusablePath(StorePath, "StorePathInvalid", "the store's path", Engine.Store.Postgres.PostgresStoreAddress.Looks(StorePath));
                    var explicitPath = StorePath is null ? null : ResolveStoreLocation(StorePath);
                    try
                    {
                        _session = ReleaseSession.Open(explicitPath);
                        WriteVerbose($"Using the store '{_session.StorePath}' ({StoreSource(explicitPath)}).");
                    }
                    catch (Engine.Store.StoreException exception)
                    {
                        ThrowReportedError(ErrorMapping.FromStoreException(exception, exception.Path ?? DisplayStore(explicitPath)));
                    }
                    catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                    {
                        ThrowReportedError(new ErrorRecord(
                            new InvalidOperationException($"The release store could not be opened: {exception.Message} {ErrorMapping.StoreHint}", exception),
                            "StoreUnavailable",
                            ErrorCategory.OpenError,
                            DisplayStore(explicitPath)));
                    }
                }

                return _session!;
            }
        }

        private static string StoreSource(string? explicitPath)
            => explicitPath is not null ? "from -StorePath"
            : string.IsNullOrWhiteSpace(System.Environment.GetEnvironmentVariable(Engine.Store.StoreLocation.EnvironmentVariable)) ? "the per-user default"
            : $"from the {Engine.Store.StoreLocation.EnvironmentVariable} environment variable";

        protected override void BeginProcessing()
        {
            _cancellation ??= new CancellationTokenSource();
        }

        protected override void StopProcessing()
        {
            _cancellation?.Cancel();
        }

        public void Dispose()
        {
            _session?.Dispose();
            _session = null;
            _cancellation?.Dispose();
            _cancellation = null;
            GC.SuppressFinalize(this);
        }

        /// <summary>The store a location names, as messages may show it (a server address never with its password).</summary>
        private static string DisplayStore(string? location)
        {
            try
            {
                return Engine.Store.StoreLocation.ResolveTarget(location).Display;
            }
            catch (Engine.Store.StoreException)
            {
                return "(the store address given)";
            }
        }

        /// <summary>-WhatIf given, or $WhatIfPreference set by the caller.</summary>
        private protected bool IsWhatIf
            => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var whatIf)
                ? LanguagePrimitives.IsTrue(whatIf)
                : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));

        /// <summary>ShouldProcess, except that -Force skips the prompt (-WhatIf and an explicit -Confirm still apply).</summary>
        private protected bool ShouldProcessUnlessForced(bool force, string target, string action)
        {
            if (!IsWhatIf && force && !MyInvocation.BoundParameters.ContainsKey("Confirm"))
            {
                return true;
            }

            try
            {
                return ShouldProcess(target, action);
            }
            catch (Exception exception) when (exception is PSInvalidOperationException or System.Management.Automation.Host.HostException or NullReferenceException)
            {
                // No one can answer the prompt: pwsh -NonInteractive refuses it, and with standard input redirected from
                // /dev/null (cron) the console host reads nothing and fails inside PowerShell. Say how to run unattended.
                ThrowReportedError(new ErrorRecord(
                    new InvalidOperationException(
                        $"{MyInvocation.MyCommand.Name} asks for confirmation before \"{action}\" on \"{target}\", but this session cannot prompt " +
                        "(non-interactive, or standard input is not a terminal). Pass -Force or -Confirm:$false to run unattended.", exception),
                    "ConfirmationUnavailable",
                    ErrorCategory.InvalidOperation,
                    target));
                throw;
            }
        }

        /// <summary>
        /// -InstanceId values as every cmdlet reads them: a literal id as given, a wildcard id as every registered instance it
        /// matches. With <paramref name="reportNoMatch"/>, a wildcard that matches nothing writes an InstanceNotFound error.
        /// </summary>
        private protected IEnumerable<string> ExpandInstanceIds(IEnumerable<string> ids, bool reportNoMatch)
        {
            foreach (var id in ids)
            {
                if (!WildcardPattern.ContainsWildcardCharacters(id))
                {
                    yield return id;
                    continue;
                }

                var filter = new InstanceFilter(null, null, new[] { id });
                var found = Await(token => filter.FindAsync(Session.Store, token));
                if (found.Count == 0 && reportNoMatch)
                {
                    var message = Await(token => filter.DescribeNoMatchAsync(Session.Store, token));
                    WriteError(new ErrorRecord(new ItemNotFoundException(message), "InstanceNotFound", ErrorCategory.ObjectNotFound, id));
                }

                foreach (var instance in found)
                {
                    yield return instance.InstanceId;
                }
            }
        }

        /// <summary>Stops the command (id <paramref name="errorId"/>, the value as target) when a file path cannot name a file.</summary>
        private protected void RefuseUnusablePath(string? path, string errorId, string what, bool isServerAddress = false)
        {
            if (path is null || isServerAddress || Engine.Store.FilePathRules.Problem(path) is not { } problem)
            {
                return;
            }

            ThrowReportedError(new ErrorRecord(
                new ArgumentException(Engine.Store.FilePathRules.Describe(what, path, problem)), errorId, ErrorCategory.InvalidArgument, path));
        }

        /// <summary>A server address as given; a file path resolved like any PowerShell path.</summary>
        private protected string ResolveStoreLocation(string location) =>
            Engine.Store.Postgres.PostgresStoreAddress.Looks(location) ? location : ResolvePath(location);

        /// <summary>
        /// A -PackageUrl as the engine takes it: anything that is, or tries to be, a URL as it is (the engine says what is
        /// wrong with a bad one); anything else names a local file, resolved like any PowerShell path.
        /// </summary>
        private protected (string Url, bool Local) ResolvePackageLocation(string packageUrl)
        {
            var parsed = Uri.TryCreate(packageUrl, UriKind.Absolute, out var uri);
            var looksLikeUrl = packageUrl.IndexOf("://", StringComparison.Ordinal) > 0 && !packageUrl.StartsWith("file://", StringComparison.OrdinalIgnoreCase);
            if (string.IsNullOrWhiteSpace(packageUrl) || looksLikeUrl || parsed && !uri!.IsFile && uri.Scheme.Length > 1)
            {
                return (packageUrl, false);
            }

            return (parsed && uri!.IsFile ? uri.LocalPath : ResolvePath(packageUrl), true);
        }

        /// <summary>A -ConfigPath template that must exist (ConfigTemplateNotFound otherwise), with its -ConfigValues as strings.</summary>
        private protected (string Path, Dictionary<string, string> Values) ReadConfigTemplate(string configPath, System.Collections.Hashtable? configValues)
        {
            var path = ResolvePath(configPath);
            if (!File.Exists(path))
            {
                ThrowReportedError(new ErrorRecord(
                    new FileNotFoundException($"The config template '{path}' does not exist.", path),
                    "ConfigTemplateNotFound",
                    ErrorCategory.ObjectNotFound,
                    path));
            }

            var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (System.Collections.DictionaryEntry entry in configValues ?? new System.Collections.Hashtable())
            {
                values[entry.Key.ToString()!] = LanguagePrimitives.ConvertTo<string>(entry.Value) ?? "";
            }

            return (path, values);
        }

        /// <summary>A PowerShell path (relative to the current location, PSDrive-aware) as a file-system path.</summary>
        private protected string ResolvePath(string path) => SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

        /// <summary>Runs engine work off the pipeline thread and waits for it here; Ctrl+C cancels it.</summary>
        private protected T Await<T>(Func<CancellationToken, Task<T>> work)
            => RunDraining<T>((_, token) => work(token), null);

        /// <summary>
        /// Runs an engine operation on a background task and drains its events on the pipeline thread, where
        /// <paramref name="onEvent"/> may write output, errors and progress. If the handler throws (for example
        /// -ErrorAction Stop turned an error into an exception) the run is cancelled and awaited before rethrowing.
        /// </summary>
        private protected T RunDraining<T>(Func<IDeploymentObserver, CancellationToken, Task<T>> work, Action<DeploymentEvent>? onEvent)
        {
            // Opened here, on the pipeline thread, so its verbose line and any error are written where PowerShell allows it.
            _ = Session;
            var token = CancellationToken;
            var queue = new EventQueue();
            var run = Task.Run(() => work(queue, token), token);
            run.ContinueWith(_ => queue.Complete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            var drained = false;
            try
            {
                foreach (var deploymentEvent in queue.Drain())
                {
                    onEvent?.Invoke(deploymentEvent);
                }

                drained = true;
            }
            finally
            {
                if (!drained)
                {
                    _cancellation?.Cancel();
                    // Bounded: the engine honours cancellation; never leave the pipeline hanging on a stuck run.
                    try
                    {
                        run.Wait(TimeSpan.FromSeconds(30));
                    }
                    catch (AggregateException)
                    {
                        // The handler's exception is the one the user needs to see.
                    }
                }
            }

            try
            {
                return run.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            catch (DeploymentException exception)
            {
                ThrowReportedError(ErrorMapping.FromDeploymentException(exception));
                throw;
            }
            catch (Engine.Store.StoreException exception)
            {
                ThrowReportedError(ErrorMapping.FromStoreException(exception, _session?.StorePath));
                throw;
            }
            catch (Engine.Lifecycle.LifecycleException exception) when (!_lifecycleErrorsPerItem)
            {
                ThrowReportedError(ErrorMapping.FromLifecycleException(exception));
                throw;
            }
        }

        private bool _lifecycleErrorsPerItem;

        /// <summary>
        /// Runs lifecycle work for one item (one release): a refusal (wrong state, frozen, lost race...) is written as that
        /// item's error and the command goes on with the next; false then.
        /// </summary>
        private protected bool TryLifecycle<T>(Func<CancellationToken, Task<T>> work, out T result) => TryLifecycleItem(() => Await(work), out result);

        /// <summary>As <see cref="TryLifecycle{T}"/>, for work that drains engine events itself (RunDraining).</summary>
        private protected bool TryLifecycleItem<T>(Func<T> body, out T result)
        {
            _lifecycleErrorsPerItem = true;
            try
            {
                result = body();
                return true;
            }
            catch (Engine.Lifecycle.LifecycleException exception)
            {
                WriteItemError(ErrorMapping.FromLifecycleException(exception));
                result = default!;
                return false;
            }
            finally
            {
                _lifecycleErrorsPerItem = false;
            }
        }

        /// <summary>Writes a per-item error and, under Azure Pipelines, the matching logging command and a failed task result.</summary>
        private protected void WriteItemError(ErrorRecord error)
        {
            ReportToAzureDevOps(error);
            WriteError(error);
        }

        /// <summary>A run-stopping error: reported to Azure Pipelines like a per-item one, then thrown.</summary>
        private protected void ThrowReportedError(ErrorRecord error)
        {
            ReportToAzureDevOps(error);
            ThrowTerminatingError(error);
        }

        private void ReportToAzureDevOps(ErrorRecord error)
        {
            AzureDevOps?.ReportError(error.FullyQualifiedErrorId.Split(',')[0], error.ErrorDetails?.Message ?? error.Exception.Message);
            AzureDevOps?.ReportFailed();
        }

        private protected void WriteReportedWarning(string code, string message)
        {
            AzureDevOps?.ReportWarning(code, message);
            WriteWarning(message);
        }

        private AzureDevOpsReporter? AzureDevOps
        {
            get
            {
                if (!_azureDevOpsChecked)
                {
                    // Written the way Write-Host writes: shown by every host (the pipeline agent reads it from stdout),
                    // yet still a record in the information stream that scripts and tests can capture.
                    _azureDevOps = AzureDevOpsReporter.CreateIfActive(line => WriteInformation(new HostInformationMessage { Message = line }, new[] { "PSHOST", AzureDevOpsReporter.Tag }));
                    _azureDevOpsChecked = true;
                }

                return _azureDevOps;
            }
        }

        private protected Engine.Floyd.FloydClientOptions FloydOptions(string signatureAlgorithm)
        {
            var sha256 = string.Equals(signatureAlgorithm, "SHA256", StringComparison.OrdinalIgnoreCase);
            WriteVerbose($"Signatures use {(sha256 ? Engine.Floyd.FloydProtocol.Sha256Scheme : Engine.Floyd.FloydProtocol.Sha1Scheme)} (-SignatureAlgorithm {(sha256 ? "SHA256" : "SHA1")}); the agents' --hash-algorithm must match.");
            return new Engine.Floyd.FloydClientOptions { HashAlgorithm = sha256 ? Engine.Floyd.FloydHashAlgorithm.Sha256 : Engine.Floyd.FloydHashAlgorithm.Sha1 };
        }

        /// <summary>The signing key's path when one is given and exists; null otherwise (for -WhatIf, which can plan without one).</summary>
        private protected string? TryResolvePrivateKey(string? explicitPath)
        {
            var given = explicitPath ?? PrivateKeyLocation.FromEnvironment();
            if (given is null)
            {
                return null;
            }

            var path = ResolvePath(given);
            if (!System.IO.File.Exists(path))
            {
                return null;
            }

            WriteKeyVerbose(path, explicitPath);
            return path;
        }

        private void WriteKeyVerbose(string path, string? explicitPath)
            => WriteVerbose($"Signing requests with the key '{path}' ({(explicitPath is null ? $"from the {PrivateKeyLocation.EnvironmentVariable} environment variable" : "from -PrivateKeyPath")}).");

        /// <summary>
        /// The signing key: -PrivateKeyPath, else RELEASETOOLS_PRIVATE_KEY. Missing or absent is terminating: nothing
        /// can be signed, so no instance could be reached.
        /// </summary>
        private protected string ResolvePrivateKey(string? explicitPath)
        {
            var given = explicitPath ?? PrivateKeyLocation.FromEnvironment();
            if (given is null)
            {
                ThrowReportedError(new ErrorRecord(
                    new ArgumentException($"No signing key given. Pass -PrivateKeyPath <path to the RSA private key PEM> or set the {PrivateKeyLocation.EnvironmentVariable} environment variable."),
                    "PrivateKeyNotSpecified",
                    ErrorCategory.InvalidArgument,
                    null));
            }

            var path = ResolvePath(given!);
            WriteKeyVerbose(path, explicitPath);
            if (!System.IO.File.Exists(path))
            {
                ThrowReportedError(new ErrorRecord(
                    new System.IO.FileNotFoundException($"The private key file '{path}' does not exist. Pass the path of the RSA private key (PEM) whose public key the Floyd agents trust.", path),
                    "PrivateKeyNotFound",
                    ErrorCategory.ObjectNotFound,
                    path));
            }

            return path;
        }
    }
}
