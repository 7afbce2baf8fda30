using System.Collections.Concurrent;
using System.Text.Json;
using ReleaseTools.Agent.Activation;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Agent.Storage;

/// <summary>
/// The agent's data directory:
/// <c>packages/&lt;md5&gt;.pkg</c> (content-addressed bytes),
/// <c>services/&lt;service&gt;/versions/&lt;version&gt;.json</c> (version → package MD5),
/// <c>services/&lt;service&gt;/configs/&lt;fversion&gt;/&lt;file&gt;</c> plus <c>configs/&lt;fversion&gt;.json</c>,
/// <c>services/&lt;service&gt;/active.json</c> (the active-release pointer), and <c>tmp/</c> for bodies being received.
/// Where a method takes a service, it takes the <see cref="ServiceSlot"/> of one of its instances: the service name for
/// its default instance, <c>&lt;service&gt;@&lt;instance&gt;</c> (a folder of its own) for another.
/// Every file becomes visible by a rename of a complete temporary file, and the JSON record is written last, so a
/// killed agent leaves either the old state or the new one. Temporary names never pass name validation and are
/// deleted on start.
/// </summary>
public sealed class ReleaseRepository
{
    private const string PackageExtension = ".pkg";
    private const string RecordExtension = ".json";
    private const string ActiveFile = "active.json";
    private const string JournalFile = "activation.json";

    private readonly FloydAgentOptions _options;
    private readonly ReleaseLayout _layout;
    private readonly ILogger<ReleaseRepository> _logger;
    private readonly SemaphoreSlim _mutation = new(1, 1);
    private readonly ConcurrentDictionary<long, Receipt> _receiving = new();
    private long _receiptIds;

    public ReleaseRepository(FloydAgentOptions options, ILogger<ReleaseRepository> logger)
    {
        _options = options;
        _layout = new ReleaseLayout(options);
        _logger = logger;
        Root = Path.GetFullPath(options.DataDirectory);
    }

    public string Root { get; }

    private string PackagesDirectory => Path.Combine(Root, "packages");
    private string ServicesDirectory => Path.Combine(Root, "services");
    private string IncomingDirectory => Path.Combine(Root, "tmp");

    /// <summary>
    /// Creates the layout, proves the agent can write each of its folders (<see cref="WriteProbe"/>; the agent does not
    /// start otherwise) and removes what an interrupted agent left half-written.
    /// </summary>
    public void Initialize()
    {
        foreach (var folder in new[] { PackagesDirectory, ServicesDirectory, IncomingDirectory })
        {
            NoLinks.RequireDirectory(folder);
        }

        Directory.CreateDirectory(PackagesDirectory);
        Directory.CreateDirectory(ServicesDirectory);
        Directory.CreateDirectory(IncomingDirectory);
        foreach (var folder in new[] { Root, PackagesDirectory, ServicesDirectory, IncomingDirectory })
        {
            if (WriteProbe.Check(folder) is { } reason)
            {
                throw new InvalidOperationException(
                    $"The agent cannot write to '{folder}' in its data directory ({reason}). It stores every package and record there: give the agent's user write access to the whole data directory (for example 'chown -R floyd:floyd {Root}'), or free space on its file system.");
            }
        }

        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(IncomingDirectory))
        {
            File.Delete(file);
            removed++;
        }

        foreach (var file in AgentTemporaryFiles(Root))
        {
            File.Delete(file);
            removed++;
        }

        if (removed > 0)
        {
            _logger.LogWarning("Removed {Count} partial files left by an interrupted agent in {DataDirectory}", removed, Root);
        }
    }

    /// <summary>
    /// The agent's own dot-prefixed temporary files. Installed releases and links are not searched: a service's files
    /// are the service's, whatever their names.
    /// </summary>
    private static IEnumerable<string> AgentTemporaryFiles(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(directory, ".*.tmp"))
        {
            yield return file;
        }

        foreach (var child in Directory.EnumerateDirectories(directory))
        {
            if (new DirectoryInfo(child).LinkTarget != null || Path.GetFileName(child) == ReleaseLayout.ReleasesFolder)
            {
                continue;
            }

            foreach (var file in AgentTemporaryFiles(child))
            {
                yield return file;
            }
        }
    }

    /// <summary>
    /// Refuses a service name (or an instance id of a service) that differs only in case from one the agent already
    /// holds: on a case-insensitive file system (Windows, macOS) both would be the same directory, so one service's push
    /// would overwrite the other's. <paramref name="slot"/> is the instance's <see cref="ServiceSlot"/>.
    /// </summary>
    public void RequireNoCaseTwin(string slot)
    {
        if (!Directory.Exists(ServicesDirectory))
        {
            return;
        }

        var service = ServiceSlot.ServiceOf(slot);
        foreach (var directory in Directory.EnumerateDirectories(ServicesDirectory))
        {
            var existingSlot = Path.GetFileName(directory);
            var existing = ServiceSlot.ServiceOf(existingSlot);
            if (string.Equals(existing, service, StringComparison.Ordinal) && ServiceSlot.InstanceOf(slot) is { } instance
                && ServiceSlot.InstanceOf(existingSlot) is { } existingInstance
                && string.Equals(existingInstance, instance, StringComparison.OrdinalIgnoreCase) && !string.Equals(existingInstance, instance, StringComparison.Ordinal))
            {
                throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidName,
                    $"The instance '{instance}' of {service} differs only in case from its instance '{existingInstance}' this agent already holds; use '{existingInstance}', or another id.");
            }

            if (string.Equals(existing, service, StringComparison.OrdinalIgnoreCase) && !string.Equals(existing, service, StringComparison.Ordinal))
            {
                throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidName,
                    $"The service '{service}' differs only in case from the service '{existing}' this agent already holds; use '{existing}', or another name.");
            }
        }
    }

    /// <summary>Marks a push in progress so retention leaves its release alone, and gives it a temporary file.</summary>
    public Receipt BeginReceive(string service, string? version, string? fversion, string? md5)
    {
        var id = Interlocked.Increment(ref _receiptIds);
        var receipt = new Receipt(this, id, service, version, fversion, md5?.ToLowerInvariant(),
            Path.Combine(IncomingDirectory, $"{Guid.NewGuid():N}.partial"));
        _receiving[id] = receipt;
        return receipt;
    }

    public VersionRecord? GetVersion(string service, string version) =>
        ReadRecord<VersionRecord>(VersionPath(service, version));

    public bool HasPackageBytes(string md5) => File.Exists(PackagePath(md5));

    public ConfigRecord? GetConfig(string service, string fversion)
    {
        var record = ReadRecord<ConfigRecord>(ConfigRecordPath(service, fversion));
        return record != null && File.Exists(ConfigFilePath(service, fversion, record.FileName)) ? record : null;
    }

    public ActiveRecord? GetActive(string service) => ReadRecord<ActiveRecord>(ActivePath(service));

    public string ConfigFilePath(string service, string fversion, string fileName) =>
        Path.Combine(ServiceDirectory(service), "configs", fversion, fileName);

    public string PackagePath(string md5) => Path.Combine(PackagesDirectory, md5.ToLowerInvariant() + PackageExtension);

    /// <summary>Moves a verified package into the content store and maps the version to it.</summary>
    public async Task<PackageReceiptBody> CommitPackageAsync(Receipt receipt, string version, string md5, string fileName, long bytes, CancellationToken cancellationToken)
    {
        md5 = md5.ToLowerInvariant();
        await _mutation.WaitAsync(cancellationToken);
        try
        {
            var target = PackagePath(md5);
            var alreadyStored = File.Exists(target);
            if (alreadyStored)
            {
                File.Delete(receipt.TempPath);
            }
            else
            {
                File.Move(receipt.TempPath, target);
                DurableFiles.FlushDirectory(PackagesDirectory);
            }

            var existing = GetVersion(receipt.Service, version);
            if (existing == null || !string.Equals(existing.PackageMd5, md5, StringComparison.Ordinal))
            {
                if (existing != null)
                {
                    _logger.LogWarning("Version {Version} of {Service} now maps to package {Md5} instead of {OldMd5}", version, receipt.Service, md5, existing.PackageMd5);
                }

                WriteRecordAtomically(VersionPath(receipt.Service, version), new VersionRecord(md5, fileName, bytes, Now()));
            }

            return new PackageReceiptBody { Service = receipt.Service, Version = version, Md5 = md5, Bytes = bytes, AlreadyStored = alreadyStored };
        }
        finally
        {
            _mutation.Release();
        }
    }

    public async Task CommitConfigAsync(Receipt receipt, string version, string fversion, string fileName, string md5, CancellationToken cancellationToken)
    {
        await _mutation.WaitAsync(cancellationToken);
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                // The service reads its config as another user; 644 whatever the agent's umask.
                File.SetUnixFileMode(receipt.TempPath,
                    UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }

            var target = ConfigFilePath(receipt.Service, fversion, fileName);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(receipt.TempPath, target, overwrite: true);
            DurableFiles.FlushDirectory(Path.GetDirectoryName(target)!);
            WriteRecordAtomically(ConfigRecordPath(receipt.Service, fversion), new ConfigRecord(version, fileName, md5.ToLowerInvariant(), Now()));
        }
        finally
        {
            _mutation.Release();
        }
    }

    /// <summary>The package and config of a release, or 409 package_missing / config_missing.</summary>
    public (VersionRecord Package, ConfigRecord Config) RequireRelease(string service, string version, string fversion)
    {
        var package = GetVersion(service, version);
        if (package == null || !HasPackageBytes(package.PackageMd5))
        {
            throw new FloydRejection(StatusCodes.Status409Conflict, FloydErrorCodes.PackageMissing,
                $"Cannot activate {service} {version}: the agent holds no package for that version; push the package first.");
        }

        var config = GetConfig(service, fversion);
        if (config == null || !string.Equals(config.Version, version, StringComparison.Ordinal))
        {
            throw new FloydRejection(StatusCodes.Status409Conflict, FloydErrorCodes.ConfigMissing,
                config == null
                    ? $"Cannot activate {service} {version}: the agent holds no config for fversion {fversion}; push the config first."
                    : $"Cannot activate {service} {version}: the config of fversion {fversion} was pushed for version {config.Version}.");
        }

        return (package, config);
    }

    /// <summary>Written before an activation changes anything; its presence at start means the activation was interrupted.</summary>
    public void WriteJournal(string service, ActivationJournal journal) => WriteRecordAtomically(JournalPath(service), journal);

    public ActivationJournal? ReadJournal(string service) => ReadRecord<ActivationJournal>(JournalPath(service));

    /// <summary>
    /// Gone for good once this returns: a journal back after a power cut would make the agent, at its next start, treat
    /// the finished activation as interrupted and run the active release's activate hook and health gate again.
    /// </summary>
    public void ClearJournal(string service)
    {
        File.Delete(JournalPath(service));
        DurableFiles.FlushDirectory(ServiceDirectory(service));
    }

    /// <summary>
    /// Records (version, fversion) as the service's active release by renaming a complete pointer file over the old
    /// one, then applies retention. <see cref="Activation.ReleaseActivator"/> calls it once the release passed its hooks and gate.
    /// </summary>
    public async Task<ActivateResponseBody> ActivateAsync(string service, string version, string fversion, CancellationToken cancellationToken)
    {
        await _mutation.WaitAsync(cancellationToken);
        try
        {
            var (package, config) = RequireRelease(service, version, fversion);
            var current = GetActive(service);
            var response = new ActivateResponseBody { Service = service, Version = version, FVersion = fversion };
            if (current != null && current.Version == version && current.FVersion == fversion)
            {
                response.PreviousVersion = current.PreviousVersion;
                response.PreviousFVersion = current.PreviousFVersion;
                return response;
            }

            var now = Now();
            var history = new List<ActivationRecord> { new(version, fversion, now) };
            if (current != null)
            {
                history.AddRange(current.History.Where(h => h.FVersion != fversion).Take(Math.Max(0, _options.KeepReleases) + 2));
            }

            var active = new ActiveRecord(version, fversion, package.PackageMd5, config.FileName, now, current?.Version, current?.FVersion, history);
            WriteRecordAtomically(ActivePath(service), active);
            response.PreviousVersion = current?.Version;
            response.PreviousFVersion = current?.FVersion;
            _logger.LogInformation("Activated {Service} {Version} (fversion {FVersion}); previous {PreviousVersion} ({PreviousFVersion})",
                service, version, fversion, current?.Version, current?.FVersion);

            try
            {
                ApplyRetention(service, active);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The switch already happened; a file that cannot be removed now is retried after the next activation.
                _logger.LogWarning(ex, "Retention for {Service} could not finish", service);
            }

            return response;
        }
        finally
        {
            _mutation.Release();
        }
    }

    public StatusBody GetStatus()
    {
        var status = new StatusBody();
        if (!Directory.Exists(ServicesDirectory))
        {
            return status;
        }

        foreach (var directory in NoLinks.RealDirectories(ServicesDirectory).OrderBy(d => d, StringComparer.Ordinal))
        {
            var service = Path.GetFileName(directory);
            var active = GetActive(service);
            status.Services.Add(new ServiceStatusBody
            {
                Service = ServiceSlot.ServiceOf(service),
                Instance = ServiceSlot.InstanceOf(service),
                ActiveVersion = active?.Version,
                ActiveFVersion = active?.FVersion,
                ActivatedAt = active?.ActivatedAt.ToString("O"),
                StoredVersions = RecordNames(Path.Combine(directory, "versions")).ToList(),
                StoredFVersions = RecordNames(Path.Combine(directory, "configs")).ToList(),
            });
        }

        return status;
    }

    /// <summary>
    /// Keeps, per service, the <see cref="FloydAgentOptions.KeepReleases"/> most recently used releases (received or
    /// activated), and always the active one, the one before it and any being received; removes the others' configs,
    /// version records and installed release directories, then the package bytes no kept version of any service
    /// refers to. Runs under the mutation lock.
    /// </summary>
    private void ApplyRetention(string service, ActiveRecord active)
    {
        var receiving = _receiving.Values.ToArray();
        var serviceDirectory = ServiceDirectory(service);
        DateTimeOffset LastUsed(string fversion, ConfigRecord record)
        {
            var used = record.ReceivedAt;
            foreach (var activation in active.History)
            {
                if (activation.FVersion == fversion && activation.ActivatedAt > used) used = activation.ActivatedAt;
            }

            return used;
        }

        // A class, not a tuple, and a List sort rather than OrderBy over a DateTimeOffset key: generic code over the
        // agent's value types is not in the published agent's precompiled image, and was compiled during its first
        // activation (about twenty methods); code over reference types is shared and precompiled.
        var configs = new List<StoredConfig>();
        foreach (var fversion in RecordNames(Path.Combine(serviceDirectory, "configs")))
        {
            if (ReadRecord<ConfigRecord>(ConfigRecordPath(service, fversion)) is { } record) configs.Add(new StoredConfig(fversion, record, LastUsed(fversion, record)));
        }

        var keptFVersions = new HashSet<string>(StringComparer.Ordinal) { active.FVersion };
        if (active.PreviousFVersion != null) keptFVersions.Add(active.PreviousFVersion);
        foreach (var r in receiving.Where(r => r.Service == service && r.FVersion != null)) keptFVersions.Add(r.FVersion!);
        var byLastUse = new List<StoredConfig>(configs);
        // Most recently used first; equal times keep the name order configs is in, as a stable sort would.
        byLastUse.Sort((a, b) => a.LastUsed != b.LastUsed ? b.LastUsed.CompareTo(a.LastUsed) : string.CompareOrdinal(a.FVersion, b.FVersion));
        foreach (var c in byLastUse.Take(Math.Max(0, _options.KeepReleases))) keptFVersions.Add(c.FVersion);

        var keptVersions = new HashSet<string>(StringComparer.Ordinal) { active.Version };
        if (active.PreviousVersion != null) keptVersions.Add(active.PreviousVersion);
        foreach (var r in receiving.Where(r => r.Service == service && r.Version != null)) keptVersions.Add(r.Version!);
        foreach (var c in configs.Where(c => keptFVersions.Contains(c.FVersion))) keptVersions.Add(c.Record.Version);

        foreach (var fversion in configs.Where(c => !keptFVersions.Contains(c.FVersion)).Select(c => c.FVersion))
        {
            // Record first: without it the config no longer counts as present, even if deleting the folder fails.
            File.Delete(ConfigRecordPath(service, fversion));
            var folder = Path.Combine(serviceDirectory, "configs", fversion);
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            _logger.LogInformation("Retention removed config {FVersion} of {Service}", fversion, service);
        }

        foreach (var version in RecordNames(Path.Combine(serviceDirectory, "versions")))
        {
            var record = GetVersion(service, version);
            if (keptVersions.Contains(version))
            {
                continue;
            }

            File.Delete(VersionPath(service, version));
            _logger.LogInformation("Retention removed version {Version} of {Service}", version, service);
        }

        RemoveInstalledReleases(service, configs.Where(c => keptFVersions.Contains(c.FVersion)).Select(c => ReleaseLayout.ReleaseName(c.Record.Version, c.FVersion)));

        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var serviceFolder in NoLinks.RealDirectories(ServicesDirectory))
        {
            var name = Path.GetFileName(serviceFolder);
            foreach (var version in RecordNames(Path.Combine(serviceFolder, "versions")))
            {
                if (GetVersion(name, version) is { } record) referenced.Add(record.PackageMd5);
            }

            if (GetActive(name) is { } serviceActive) referenced.Add(serviceActive.PackageMd5);
        }

        foreach (var r in receiving.Where(r => r.Md5 != null)) referenced.Add(r.Md5!);
        foreach (var blob in Directory.EnumerateFiles(PackagesDirectory, "*" + PackageExtension))
        {
            var md5 = Path.GetFileNameWithoutExtension(blob);
            if (!referenced.Contains(md5))
            {
                File.Delete(blob);
                _logger.LogInformation("Retention removed package bytes {Md5}", md5);
            }
        }
    }

    /// <summary>Deletes release directories (and their package markers) of releases no longer kept; never one being unpacked.</summary>
    private void RemoveInstalledReleases(string service, IEnumerable<string> keptReleaseNames)
    {
        var releases = _layout.ReleasesDirectory(service);
        if (!Directory.Exists(releases))
        {
            return;
        }

        var kept = new HashSet<string>(keptReleaseNames, StringComparer.Ordinal);
        var current = CurrentLink.Read(_layout.ServiceDirectory(service));
        if (current != null) kept.Add(current);
        foreach (var directory in Directory.EnumerateDirectories(releases))
        {
            var name = Path.GetFileName(directory);
            if (name.StartsWith('.') || kept.Contains(name))
            {
                continue;
            }

            // Marker first: a directory without it is unpacked again rather than trusted.
            File.Delete(directory + ".package");
            Directory.Delete(directory, recursive: true);
            _logger.LogInformation("Retention removed the installed release {Release} of {Service}", name, service);
        }
    }

    private static IEnumerable<string> RecordNames(string directory) =>
        Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory, "*" + RecordExtension)
                .Select(Path.GetFileNameWithoutExtension)
                .Where(n => n != null && !n.StartsWith('.'))
                .Select(n => n!)
                .OrderBy(n => n, StringComparer.Ordinal)
            : Enumerable.Empty<string>();

    private string ServiceDirectory(string service) => NoLinks.RequireServiceDirectory(Path.Combine(ServicesDirectory, service));
    private string VersionPath(string service, string version) => Path.Combine(ServiceDirectory(service), "versions", version + RecordExtension);
    private string ConfigRecordPath(string service, string fversion) => Path.Combine(ServiceDirectory(service), "configs", fversion + RecordExtension);
    private string ActivePath(string service) => Path.Combine(ServiceDirectory(service), ActiveFile);
    private string JournalPath(string service) => Path.Combine(ServiceDirectory(service), JournalFile);

    private DateTimeOffset Now() => _options.TimeProvider.GetUtcNow();

    /// <summary>
    /// Null when the record does not exist. Most reads are of records that do not exist yet (every ping asks for the
    /// version and config it is about to push), so that case is a check rather than a thrown and caught exception; the
    /// catch covers a record deleted between the check and the read.
    /// </summary>
    private static T? ReadRecord<T>(string path) where T : class
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllBytes(path), AgentJson.Records);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Write to a dot-prefixed temporary name in the same folder, flush to disk, rename over the target, flush the folder.</summary>
    private static void WriteRecordAtomically<T>(string path, T record)
    {
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, record, AgentJson.Records);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        DurableFiles.FlushDirectory(directory);
    }

    /// <summary>A config the service holds, as retention weighs it.</summary>
    private sealed record StoredConfig(string FVersion, ConfigRecord Record, DateTimeOffset LastUsed);

    /// <summary>A push in progress: its temporary file and what retention must not delete meanwhile.</summary>
    public sealed class Receipt : IDisposable
    {
        private readonly ReleaseRepository _owner;
        private readonly long _id;

        internal Receipt(ReleaseRepository owner, long id, string service, string? version, string? fversion, string? md5, string tempPath)
        {
            _owner = owner;
            _id = id;
            Service = service;
            Version = version;
            FVersion = fversion;
            Md5 = md5;
            TempPath = tempPath;
        }

        public string Service { get; }
        public string? Version { get; }
        public string? FVersion { get; }
        public string? Md5 { get; }
        public string TempPath { get; }

        public void Dispose()
        {
            _owner._receiving.TryRemove(_id, out _);
            try
            {
                // Gone already when committed; otherwise the push failed and its bytes must not linger.
                File.Delete(TempPath);
            }
            catch (IOException)
            {
            }
        }
    }
}
