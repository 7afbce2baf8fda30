using ReleaseTools.Agent.Hosting;

namespace ReleaseTools.Agent.Activation;

/// <summary>
/// Where a service's installed releases live:
/// <c>&lt;service dir&gt;/releases/&lt;version&gt;-&lt;fversion&gt;/</c> (complete, never changed once in place),
/// <c>&lt;service dir&gt;/releases/.&lt;name&gt;.&lt;id&gt;.partial/</c> (being unpacked; removed at start), and
/// <c>&lt;service dir&gt;/current</c> (the link to the active one). The service directory is the service's
/// <c>directory</c> in the agent config file, or <c>&lt;data-dir&gt;/services/&lt;service&gt;</c>.
/// </summary>
public sealed class ReleaseLayout
{
    public const string ReleasesFolder = "releases";
    public const string StagingSuffix = ".partial";

    private readonly FloydAgentOptions _options;

    public ReleaseLayout(FloydAgentOptions options)
    {
        _options = options;
        DataDirectory = Path.GetFullPath(options.DataDirectory);
    }

    public string DataDirectory { get; }

    /// <summary>
    /// The settings of a service instance by its <see cref="Storage.ServiceSlot"/>: its own section, else (a non-default
    /// instance with none) its service's section without the service's <c>directory</c>, which belongs to the default instance.
    /// </summary>
    public ServiceSettings SettingsFor(string service)
    {
        if (_options.Services.TryGetValue(service, out var settings))
        {
            return settings;
        }

        return Storage.ServiceSlot.InstanceOf(service) != null && _options.Services.TryGetValue(Storage.ServiceSlot.ServiceOf(service), out var shared)
            ? shared with { Directory = null }
            : ServiceSettings.Default;
    }

    public string ServiceDirectory(string service) =>
        SettingsFor(service).Directory is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Storage.NoLinks.RequireServiceDirectory(Path.Combine(DataDirectory, "services", service));

    public string ReleasesDirectory(string service) => Path.Combine(ServiceDirectory(service), ReleasesFolder);

    public static string ReleaseName(string version, string fversion) => $"{version}-{fversion}";

    public string ReleaseDirectory(string service, string version, string fversion) =>
        Path.Combine(ReleasesDirectory(service), ReleaseName(version, fversion));

    public string NewStagingDirectory(string service, string version, string fversion) =>
        Path.Combine(ReleasesDirectory(service), $".{ReleaseName(version, fversion)}.{Guid.NewGuid():N}{StagingSuffix}");

    /// <summary>Every service the agent knows: those in the data directory and those configured elsewhere.</summary>
    public IEnumerable<string> KnownServices()
    {
        var fromData = Directory.Exists(Path.Combine(DataDirectory, "services"))
            ? Storage.NoLinks.RealDirectories(Path.Combine(DataDirectory, "services")).Select(Path.GetFileName).OfType<string>()
            : Enumerable.Empty<string>();
        return fromData.Concat(_options.Services.Keys).Distinct(StringComparer.Ordinal);
    }

    /// <summary>
    /// The configured service directories (a service's <c>directory</c>, anywhere on the host) the agent cannot write,
    /// each with why (<see cref="Storage.WriteProbe.CheckCreatable"/>). Those under the data directory are checked with it.
    /// </summary>
    public IEnumerable<(string Service, string Directory, string Reason)> UnwritableConfiguredDirectories()
    {
        foreach (var (service, settings) in _options.Services)
        {
            if (settings.Directory is { Length: > 0 } configured && Storage.WriteProbe.CheckCreatable(Path.GetFullPath(configured)) is { } reason)
            {
                yield return (service, Path.GetFullPath(configured), reason);
            }
        }
    }

    public long MaxExpandedBytes(string service) => SettingsFor(service).MaxExpandedBytes ?? _options.MaxExpandedBytes;
}
