using System.Collections.Concurrent;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Agent.Activation;

/// <summary>
/// Makes a received release the one that runs: unpack into <c>releases/&lt;version&gt;-&lt;fversion&gt;/</c> (or reuse it
/// when kept from before: a rollback needs no extraction), place the config, run <c>beforeActivate</c>, switch
/// <c>current</c>, run <c>activate</c>, pass the health gate, run <c>afterActivate</c>, then record the release as active.
/// When a hook or the gate fails, <c>current</c> goes back to the previous release, whose <c>activate</c> hook and gate
/// run again, and the client gets hook_failed, health_check_failed or revert_failed with the details.
/// A journal written before anything changes lets a restarted agent finish that revert after a crash.
/// Activations of one service instance run one at a time; different services and instances do not wait for each other.
/// A <c>service</c> here is the <see cref="ServiceSlot"/> of one instance of a service.
/// </summary>
public sealed class ReleaseActivator
{
    public const string HealthPassed = "passed";
    public const string HealthNotConfigured = "none";
    public const string HealthUnchanged = "unchanged";

    private readonly ReleaseRepository _repository;
    private readonly ReleaseLayout _layout;
    private readonly HookRunner _hooks;
    private readonly HealthGate _gate;
    private readonly ILogger<ReleaseActivator> _logger;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _serviceLocks = new(StringComparer.Ordinal);

    public ReleaseActivator(ReleaseRepository repository, ReleaseLayout layout, HookRunner hooks, HealthGate gate, ILogger<ReleaseActivator> logger)
    {
        _repository = repository;
        _layout = layout;
        _hooks = hooks;
        _gate = gate;
        _logger = logger;
    }

    /// <summary>
    /// Runs to the end once started: a client that hangs up must not leave a release half switched, so only the
    /// hook timeouts and the gate's attempts bound it. The release that is already active answers unchanged without
    /// running anything, unless <paramref name="reactivate"/> (a redeploy) asks for its hooks and gate again.
    /// </summary>
    public async Task<ActivateResponseBody> ActivateAsync(string service, string version, string fversion, bool reactivate, CancellationToken cancellationToken)
    {
        var serviceLock = _serviceLocks.GetOrAdd(service, _ => new SemaphoreSlim(1, 1));
        await serviceLock.WaitAsync(cancellationToken);
        try
        {
            var (package, config) = _repository.RequireRelease(service, version, fversion);
            var active = _repository.GetActive(service);
            var serviceDirectory = _layout.ServiceDirectory(service);
            var releaseName = ReleaseLayout.ReleaseName(version, fversion);
            var releaseDirectory = Path.Combine(_layout.ReleasesDirectory(service), releaseName);
            var alreadyActive = active != null && active.Version == version && active.FVersion == fversion && CurrentLink.Read(serviceDirectory) == releaseName;
            if (alreadyActive && !reactivate)
            {
                var unchanged = await _repository.ActivateAsync(service, version, fversion, CancellationToken.None);
                unchanged.HealthCheck = HealthUnchanged;
                return unchanged;
            }

            var activeState = new ActiveState(active?.Version, active?.FVersion);
            await PrepareReleaseAsync(service, version, fversion, package, config, releaseDirectory, activeState);

            _repository.WriteJournal(service, new ActivationJournal(version, fversion, active?.Version, active?.FVersion, DateTimeOffset.UtcNow));
            var settings = _layout.SettingsFor(service);
            var environment = HookEnvironment(service, version, fversion, releaseDirectory, serviceDirectory, active?.Version, active?.FVersion, reverting: false);
            var reports = new List<HookReportBody>();

            var failure = await RunStageAsync(service, settings, HookStage.BeforeActivate, releaseDirectory, environment, reports);
            if (failure == null)
            {
                CurrentLink.Switch(serviceDirectory, releaseName);
                _logger.LogInformation("Switched {Service} to {Release}", service, releaseName);
                failure = await RunStageAsync(service, settings, HookStage.Activate, releaseDirectory, environment, reports);
            }

            var health = HealthNotConfigured;
            if (failure == null && settings.HealthCheck != null)
            {
                var gate = await _gate.CheckAsync(service, settings.HealthCheck, releaseDirectory, environment, CancellationToken.None);
                health = gate.Passed ? HealthPassed : health;
                if (!gate.Passed)
                {
                    failure = new StageFailure(FloydErrorCodes.HealthCheckFailed, ActivationSteps.HealthCheck,
                        $"The health check of {service} {version} failed: {gate.Detail}.", gate.Output);
                }
            }

            failure ??= await RunStageAsync(service, settings, HookStage.AfterActivate, releaseDirectory, environment, reports);
            if (failure != null && alreadyActive)
            {
                // A redeploy of the active release: there is nothing else to go back to, so it stays current as it was.
                _repository.ClearJournal(service);
                throw ActivationFailure.Create(failure.Code,
                    $"{failure.Detail} {service} {version} was already the active release and stays current; nothing was switched.",
                    new ActivationFailureBody
                    {
                        FailedStep = failure.Step,
                        Detail = failure.Detail,
                        Output = failure.Output,
                        ActiveVersion = version,
                        ActiveFVersion = fversion,
                    });
            }

            if (failure != null)
            {
                throw await RevertAsync(service, version, active, failure);
            }

            var response = await _repository.ActivateAsync(service, version, fversion, CancellationToken.None);
            _repository.ClearJournal(service);
            response.HealthCheck = health;
            response.Hooks = reports;
            return response;
        }
        finally
        {
            serviceLock.Release();
        }
    }

    /// <summary>
    /// Start-up repair: removes half-unpacked releases and, where a journal shows an activation was interrupted,
    /// puts the recorded active release back in <c>current</c> and runs its <c>activate</c> hook and gate again.
    /// </summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        foreach (var service in _layout.KnownServices())
        {
            var releases = _layout.ReleasesDirectory(service);
            if (Directory.Exists(releases))
            {
                foreach (var staging in Directory.EnumerateDirectories(releases, "." + "*" + ReleaseLayout.StagingSuffix))
                {
                    _logger.LogWarning("Removing {Staging}, left half unpacked by an interrupted agent", staging);
                    Directory.Delete(staging, recursive: true);
                }
            }

            var journal = _repository.ReadJournal(service);
            var active = _repository.GetActive(service);
            var serviceDirectory = _layout.ServiceDirectory(service);
            var wanted = active == null ? null : ReleaseLayout.ReleaseName(active.Version, active.FVersion);
            if (journal == null)
            {
                if (wanted != null && CurrentLink.Read(serviceDirectory) != wanted && Directory.Exists(Path.Combine(releases, wanted)))
                {
                    _logger.LogWarning("{Service}: current did not point at the active release {Release}; repaired", service, wanted);
                    CurrentLink.Switch(serviceDirectory, wanted);
                }

                continue;
            }

            _logger.LogWarning("{Service}: the activation of {Version} ({FVersion}) was interrupted; going back to {Active}",
                service, journal.Version, journal.FVersion, wanted ?? "no release");
            var failure = new StageFailure(FloydErrorCodes.HookFailed, "restart", "The agent stopped during the activation.", "");
            try
            {
                await RevertAsync(service, journal.Version, active, failure);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogError(ex, "{Service}: could not go back to {Active} after an interrupted activation", service, wanted);
            }
        }
    }

    private async Task PrepareReleaseAsync(string service, string version, string fversion, VersionRecord package, ConfigRecord config,
        string releaseDirectory, ActiveState active)
    {
        var marker = releaseDirectory + ".package";
        if (Directory.Exists(releaseDirectory) && File.Exists(marker) && File.ReadAllText(marker).Trim() == package.PackageMd5)
        {
            _logger.LogInformation("{Service} {Version}: release directory kept from before; nothing to unpack", service, version);
            return;
        }

        var staging = _layout.NewStagingDirectory(service, version, fversion);
        Directory.CreateDirectory(staging);
        try
        {
            var bytes = await PackageExtractor.ExtractAsync(_repository.PackagePath(package.PackageMd5), package.FileName, staging,
                _layout.MaxExpandedBytes(service), CancellationToken.None);
            PlaceConfig(service, config, staging, _repository.ConfigFilePath(service, fversion, config.FileName));
            // On disk before it takes the release's name: the marker below and the switch of current rely on it.
            ReleaseFlush.FlushTree(staging);
            if (Directory.Exists(releaseDirectory))
            {
                // Same version and config, different package bytes: the old directory may be what runs now, so it is
                // moved aside only at the last moment.
                var aside = Path.Combine(Path.GetDirectoryName(releaseDirectory)!,
                    $".{Path.GetFileName(releaseDirectory)}.{Guid.NewGuid():N}{ReleaseLayout.StagingSuffix}");
                Directory.Move(releaseDirectory, aside);
                Directory.Move(staging, releaseDirectory);
                TryDelete(aside);
            }
            else
            {
                Directory.Move(staging, releaseDirectory);
            }

            // The release's name on disk before current can name it.
            DurableFiles.FlushDirectory(Path.GetDirectoryName(releaseDirectory)!);
            // Written after the move: a crash in between leaves no marker, and the next activation unpacks again.
            File.WriteAllText(marker, package.PackageMd5);
            _logger.LogInformation("{Service} {Version}: unpacked {Package} ({Bytes} bytes) into {Directory}", service, version, package.FileName, bytes, releaseDirectory);
        }
        catch (UnpackRefusedException ex)
        {
            TryDelete(staging);
            _logger.LogWarning("{Service} {Version}: package refused ({Code}): {Reason}", service, version, ex.ErrorCode, ex.Message);
            throw ActivationFailure.Unpack(ex.ErrorCode,
                $"{ex.Message} Nothing was activated; {service} still runs {active.Version ?? "no release"}.", active);
        }
        catch
        {
            TryDelete(staging);
            throw;
        }
    }

    private void PlaceConfig(string service, ConfigRecord config, string staging, string configSource)
    {
        var relative = _layout.SettingsFor(service).ConfigPath is { Length: > 0 } configured ? configured : config.FileName;
        var target = Path.GetFullPath(Path.Combine(staging, relative));
        if (!target.StartsWith(Path.TrimEndingDirectorySeparator(staging) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"configPath '{relative}' of {service} is outside the release directory.");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        // Replaced, never written through: a link would lead the write elsewhere, and a file of the package may be the
        // package store's own bytes (a single-file package is installed as a hard link to them).
        if (File.Exists(target) || new FileInfo(target).LinkTarget != null)
        {
            File.Delete(target);
        }

        File.Copy(configSource, target);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
    }

    private async Task<FloydRejection> RevertAsync(string service, string failedVersion, ActiveRecord? previous, StageFailure failure)
    {
        var serviceDirectory = _layout.ServiceDirectory(service);
        var previousName = previous == null ? null : ReleaseLayout.ReleaseName(previous.Version, previous.FVersion);
        var previousDirectory = previousName == null ? null : Path.Combine(_layout.ReleasesDirectory(service), previousName);
        var report = new ActivationFailureBody
        {
            FailedStep = failure.Step,
            Detail = failure.Detail,
            Output = failure.Output,
            ActiveVersion = previous?.Version,
            ActiveFVersion = previous?.FVersion,
        };

        if (previous == null || previousDirectory == null || !Directory.Exists(previousDirectory))
        {
            CurrentLink.Remove(serviceDirectory);
            _repository.ClearJournal(service);
            report.ActiveVersion = null;
            report.ActiveFVersion = null;
            return ActivationFailure.Create(failure.Code, $"{failure.Detail} There is no previous release to go back to: {service} has no active release.", report);
        }

        CurrentLink.Switch(serviceDirectory, previousName!);
        _logger.LogWarning("{Service}: switched back to {Release} after: {Reason}", service, previousName, failure.Detail);
        var settings = _layout.SettingsFor(service);
        var environment = HookEnvironment(service, previous.Version, previous.FVersion, previousDirectory, serviceDirectory, failedVersion, null, reverting: true);
        var revertFailure = await RunStageAsync(service, settings, HookStage.Activate, previousDirectory, environment, new List<HookReportBody>());
        if (revertFailure == null && settings.HealthCheck != null)
        {
            var gate = await _gate.CheckAsync(service, settings.HealthCheck, previousDirectory, environment, CancellationToken.None);
            if (!gate.Passed)
            {
                revertFailure = new StageFailure(FloydErrorCodes.HealthCheckFailed, ActivationSteps.HealthCheck, gate.Detail, gate.Output);
            }
        }

        _repository.ClearJournal(service);
        if (revertFailure != null)
        {
            report.RevertDetail = revertFailure.Detail;
            _logger.LogError("{Service}: going back to {Release} failed too: {Reason}", service, previousName, revertFailure.Detail);
            return ActivationFailure.Create(FloydErrorCodes.RevertFailed,
                $"{failure.Detail} The agent switched back to {previous.Version}, but that failed too: {revertFailure.Detail} {service} needs attention.", report);
        }

        report.Reverted = true;
        return ActivationFailure.Create(failure.Code, $"{failure.Detail} The agent went back to {previous.Version}, which passed its checks again.", report);
    }

    /// <summary>The stage's configured hook, then (when the service allows it) the package's own <c>deploy/&lt;stage&gt;</c> script.</summary>
    private async Task<StageFailure?> RunStageAsync(string service, ServiceSettings settings, HookStage stage, string releaseDirectory,
        IReadOnlyDictionary<string, string> environment, List<HookReportBody> reports)
    {
        var stageName = ActivationSteps.Of(stage);
        var commands = new List<(string Source, HookCommand Command)>();
        if (settings.HookFor(stage) is { } configured)
        {
            commands.Add(("config", configured));
        }

        if (settings.AllowPackageHooks)
        {
            var script = Path.Combine(releaseDirectory, "deploy", stageName + (OperatingSystem.IsWindows() ? ".cmd" : ".sh"));
            if (File.Exists(script))
            {
                var run = OperatingSystem.IsWindows() ? $"\"{script}\"" : $"exec /bin/sh '{script.Replace("'", "'\\''")}'";
                commands.Add(("package", new HookCommand(run, settings.HookFor(stage)?.Timeout ?? HookCommand.DefaultTimeout)));
            }
        }

        var stageEnvironment = new Dictionary<string, string>(environment) { ["FLOYD_STAGE"] = stageName };
        foreach (var (source, command) in commands)
        {
            var outcome = await _hooks.RunAsync($"{service} {stageName}", command.Run, command.Timeout, releaseDirectory, stageEnvironment, CancellationToken.None);
            reports.Add(new HookReportBody
            {
                Stage = stageName,
                Source = source,
                ExitCode = outcome.ExitCode,
                TimedOut = outcome.TimedOut,
                DurationMs = (long)outcome.Duration.TotalMilliseconds,
                Output = outcome.OutputTail,
            });
            if (!outcome.Succeeded)
            {
                return new StageFailure(FloydErrorCodes.HookFailed, stageName,
                    $"The {stageName} hook of {service} ({source}) failed: {outcome.Describe(command.Run)}.", outcome.OutputTail);
            }
        }

        return null;
    }

    private static Dictionary<string, string> HookEnvironment(string service, string version, string fversion, string releaseDirectory,
        string serviceDirectory, string? previousVersion, string? previousFVersion, bool reverting) => new(StringComparer.Ordinal)
    {
        ["FLOYD_SERVICE"] = ServiceSlot.ServiceOf(service),
        ["FLOYD_INSTANCE"] = ServiceSlot.InstanceOf(service) ?? "",
        ["FLOYD_VERSION"] = version,
        ["FLOYD_FVERSION"] = fversion,
        ["FLOYD_RELEASE_DIR"] = releaseDirectory,
        ["FLOYD_PREVIOUS_VERSION"] = previousVersion ?? "",
        ["FLOYD_PREVIOUS_FVERSION"] = previousFVersion ?? "",
        ["FLOYD_SERVICE_DIR"] = serviceDirectory,
        ["FLOYD_CURRENT_DIR"] = Path.Combine(serviceDirectory, CurrentLink.Name),
        ["FLOYD_REVERT"] = reverting ? "1" : "0",
    };

    private void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning(ex, "Could not remove {Directory}; it is removed when the agent starts", directory);
        }
    }

    private sealed record StageFailure(string Code, string Step, string Detail, string Output);
}
