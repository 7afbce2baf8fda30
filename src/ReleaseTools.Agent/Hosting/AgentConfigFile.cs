using ReleaseTools.Agent.Activation;
using ReleaseTools.Engine.Floyd;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace ReleaseTools.Agent.Hosting;

/// <summary>
/// The agent config file (<c>--config /etc/floyd/agent.yaml</c>): the command-line options, and one section per
/// service with its directory, config path, hooks and health gate. YAML, or JSON (which YAML reads as it is).
/// Unknown keys are errors, so a misspelt hook never goes unnoticed. Relative paths are relative to the file.
/// docs/floyd-protocol.md §8 documents every field.
/// </summary>
public static class AgentConfigFile
{
    public static FloydAgentOptions Apply(FloydAgentOptions options, string path)
    {
        var fullPath = Path.GetFullPath(path);
        AgentDocument document;
        try
        {
            var deserializer = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build();
            document = deserializer.Deserialize<AgentDocument?>(File.ReadAllText(fullPath)) ?? new AgentDocument();
        }
        catch (YamlException ex)
        {
            var reason = ex.InnerException?.Message ?? ex.Message;
            throw new FormatException($"{fullPath}, line {ex.Start.Line}: {reason}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"Cannot read the agent config file {fullPath}: {ex.Message}");
        }

        var baseDirectory = Path.GetDirectoryName(fullPath)!;
        string Resolve(string p) => Path.GetFullPath(Path.Combine(baseDirectory, p));
        string Where(string key) => $"{fullPath}: {key}";

        var result = options;
        if (document.Urls is { Count: > 0 }) result = result with { Urls = document.Urls };
        if (!string.IsNullOrWhiteSpace(document.DataDir)) result = result with { DataDirectory = Resolve(document.DataDir) };
        if (!string.IsNullOrWhiteSpace(document.AgentId)) result = result with { AgentId = document.AgentId };
        if (!string.IsNullOrWhiteSpace(document.TlsCertificate)) result = result with { TlsCertificatePath = Resolve(document.TlsCertificate) };
        if (!string.IsNullOrWhiteSpace(document.TlsCertificateKey)) result = result with { TlsCertificateKeyPath = Resolve(document.TlsCertificateKey) };
        if (document.AuthorizedKeys is { Count: > 0 }) result = result with { AuthorizedKeyFiles = document.AuthorizedKeys.Select(Resolve).ToArray() };
        if (document.HashAlgorithm != null) result = result with { HashAlgorithm = FloydAgentCommandLine.ParseAlgorithm(document.HashAlgorithm) };
        if (document.ClockSkew != null) result = result with { ClockSkew = DurationText.Parse(document.ClockSkew, Where("clockSkew")) };
        if (document.MaxBodyBytes is { } maxBody) result = result with { MaxBodyBytes = Positive(maxBody, Where("maxBodyBytes")) };
        if (document.KeepReleases is { } keep) result = result with { KeepReleases = keep >= 0 ? keep : throw new FormatException($"{Where("keepReleases")} must be 0 or more.") };
        if (document.MaxExpandedBytes is { } maxExpanded) result = result with { MaxExpandedBytes = Positive(maxExpanded, Where("maxExpandedBytes")) };
        if (document.LogLevel != null) result = result with { MinimumLogLevel = Enum.Parse<LogLevel>(document.LogLevel, ignoreCase: true) };
        if (document.RehearseOnStart is { } rehearse) result = result with { RehearseOnStart = rehearse };

        var services = new Dictionary<string, ServiceSettings>(StringComparer.Ordinal);
        foreach (var (name, section) in document.Services ?? new Dictionary<string, ServiceSection?>())
        {
            var service = RequireServiceName(name, fullPath);
            var shared = section ?? new ServiceSection();
            services[service] = ToSettings(shared, $"services.{name}", Resolve, Where);
            foreach (var (id, instanceSection) in shared.Instances ?? new Dictionary<string, ServiceSection?>())
            {
                var key = $"services.{name}.instances.{id}";
                var own = instanceSection ?? new ServiceSection();
                if (own.Instances != null)
                {
                    throw new FormatException($"{Where(key + ".instances")}: an instance has no instances of its own.");
                }

                services[Storage.ServiceSlot.Of(service, RequireInstanceId(id, key, fullPath))] = ToSettings(own.Over(shared), key, Resolve, Where);
            }
        }

        return result with { Services = services };
    }

    private static ServiceSettings ToSettings(ServiceSection section, string key, Func<string, string> resolve, Func<string, string> where)
    {
        if (section.ConfigPath != null)
        {
            var unified = section.ConfigPath.Replace('\\', '/');
            if (Path.IsPathRooted(section.ConfigPath) || unified.Split('/').Contains("..") || unified.Length == 0 || unified.EndsWith('/'))
            {
                throw new FormatException($"{where(key + ".configPath")} must be a file path inside the release (relative, no '..'), not '{section.ConfigPath}'.");
            }
        }

        return new ServiceSettings
        {
            Directory = string.IsNullOrWhiteSpace(section.Directory) ? null : resolve(section.Directory),
            ConfigPath = section.ConfigPath,
            MaxExpandedBytes = section.MaxExpandedBytes is { } max ? Positive(max, where(key + ".maxExpandedBytes")) : null,
            AllowPackageHooks = section.AllowPackageHooks ?? false,
            BeforeActivate = ToCommand(section.Hooks?.BeforeActivate, where(key + ".hooks.beforeActivate")),
            Activate = ToCommand(section.Hooks?.Activate, where(key + ".hooks.activate")),
            AfterActivate = ToCommand(section.Hooks?.AfterActivate, where(key + ".hooks.afterActivate")),
            HealthCheck = ToGate(section.HealthCheck, key + ".healthCheck", where),
        };
    }

    private static HealthGateSettings? ToGate(HealthCheckSection? section, string key, Func<string, string> where)
    {
        if (section == null)
        {
            return null;
        }

        if ((section.Http == null) == (section.Command == null))
        {
            throw new FormatException($"{where(key)} needs exactly one of 'http' or 'command'.");
        }

        HttpHealthCheck? http = null;
        if (section.Http != null)
        {
            if (!Uri.TryCreate(section.Http.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                throw new FormatException($"{where(key + ".http.url")} must be an absolute http or https URL, not '{section.Http.Url}'.");
            }

            http = new HttpHealthCheck
            {
                Url = url,
                ExpectStatus = section.Http.ExpectStatus ?? 200,
                BodyContains = section.Http.BodyContains,
                Timeout = section.Http.Timeout == null ? TimeSpan.FromSeconds(5) : DurationText.Parse(section.Http.Timeout, where(key + ".http.timeout")),
            };
        }

        return new HealthGateSettings
        {
            Http = http,
            Command = ToCommand(section.Command, where(key + ".command")),
            Attempts = section.Attempts is { } attempts ? (attempts > 0 ? attempts : throw new FormatException($"{where(key + ".attempts")} must be 1 or more.")) : 10,
            Interval = section.Interval == null ? TimeSpan.FromSeconds(1) : DurationText.Parse(section.Interval, where(key + ".interval")),
        };
    }

    private static HookCommand? ToCommand(CommandSection? section, string key)
    {
        if (section == null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(section.Run))
        {
            throw new FormatException($"{key}.run is missing: give the command to run.");
        }

        return new HookCommand(section.Run, section.Timeout == null ? HookCommand.DefaultTimeout : DurationText.Parse(section.Timeout, key + ".timeout"));
    }

    private static string RequireServiceName(string name, string file)
    {
        try
        {
            return Storage.FloydNames.RequireService(name);
        }
        catch (FloydRejection ex)
        {
            throw new FormatException($"{file}: services: {ex.Message}");
        }
    }

    private static string RequireInstanceId(string id, string key, string file)
    {
        try
        {
            return Storage.FloydNames.RequireInstance(id);
        }
        catch (FloydRejection ex)
        {
            throw new FormatException($"{file}: {key}: {ex.Message}");
        }
    }

    private static long Positive(long value, string key) => value > 0 ? value : throw new FormatException($"{key} must be a positive number of bytes.");

    // The file's shape. Mutable classes because YamlDotNet fills them; nothing outside this file sees them.

    internal sealed class AgentDocument
    {
        public List<string>? Urls { get; set; }
        public string? DataDir { get; set; }
        public string? AgentId { get; set; }
        public string? TlsCertificate { get; set; }
        public string? TlsCertificateKey { get; set; }
        public List<string>? AuthorizedKeys { get; set; }
        public string? HashAlgorithm { get; set; }
        public string? ClockSkew { get; set; }
        public long? MaxBodyBytes { get; set; }
        public int? KeepReleases { get; set; }
        public long? MaxExpandedBytes { get; set; }
        public string? LogLevel { get; set; }
        public bool? RehearseOnStart { get; set; }
        public Dictionary<string, ServiceSection?>? Services { get; set; }
    }

    internal sealed class ServiceSection
    {
        public string? Directory { get; set; }
        public string? ConfigPath { get; set; }
        public long? MaxExpandedBytes { get; set; }
        public bool? AllowPackageHooks { get; set; }
        public HooksSection? Hooks { get; set; }
        public HealthCheckSection? HealthCheck { get; set; }
        public Dictionary<string, ServiceSection?>? Instances { get; set; }

        /// <summary>An instance's section: what it sets, else its service's; never the service's directory, which is the default instance's.</summary>
        public ServiceSection Over(ServiceSection service) => new()
        {
            Directory = Directory,
            ConfigPath = ConfigPath ?? service.ConfigPath,
            MaxExpandedBytes = MaxExpandedBytes ?? service.MaxExpandedBytes,
            AllowPackageHooks = AllowPackageHooks ?? service.AllowPackageHooks,
            Hooks = new HooksSection
            {
                BeforeActivate = Hooks?.BeforeActivate ?? service.Hooks?.BeforeActivate,
                Activate = Hooks?.Activate ?? service.Hooks?.Activate,
                AfterActivate = Hooks?.AfterActivate ?? service.Hooks?.AfterActivate,
            },
            HealthCheck = HealthCheck ?? service.HealthCheck,
        };
    }

    internal sealed class HooksSection
    {
        public CommandSection? BeforeActivate { get; set; }
        public CommandSection? Activate { get; set; }
        public CommandSection? AfterActivate { get; set; }
    }

    internal sealed class CommandSection
    {
        public string? Run { get; set; }
        public string? Timeout { get; set; }
    }

    internal sealed class HealthCheckSection
    {
        public HttpSection? Http { get; set; }
        public CommandSection? Command { get; set; }
        public int? Attempts { get; set; }
        public string? Interval { get; set; }
    }

    internal sealed class HttpSection
    {
        public string? Url { get; set; }
        public int? ExpectStatus { get; set; }
        public string? BodyContains { get; set; }
        public string? Timeout { get; set; }
    }
}
