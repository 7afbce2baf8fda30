using System.Globalization;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Hosting;

/// <summary>The agent's command line: <c>--urls</c>, <c>--data-dir</c>, repeatable <c>--authorized-key</c> and the tuning options.</summary>
public static class FloydAgentCommandLine
{
    public const string Usage = """
        Usage: ReleaseTools.Agent [--config /etc/floyd/agent.yaml]
                                  --data-dir <dir> --authorized-key <public.pem> [--authorized-key <another.pem> ...]
                                  [--urls http://127.0.0.1:7070[;http://...]] [--hash-algorithm sha1|sha256]
                                  [--clock-skew <30s|5m|hh:mm:ss>] [--max-body-bytes <n>] [--keep-releases <n>]
                                  [--max-expanded-bytes <n>] [--log-level Information|Debug|Warning] [--agent-id <id>]
                                  [--no-rehearsal]
                                  [--tls-certificate <agent.pfx|agent.pem> [--tls-certificate-key <agent.key>]]
        https:// addresses need --tls-certificate; a password for it is read from FLOYD_TLS_CERTIFICATE_PASSWORD.
        --config reads the agent config file (YAML or JSON: the options below and one section per service with its
        hooks and health check); options given on the command line override the file. --data-dir and
        --authorized-key are required, on the command line or in the file.
        Port 0 picks a free port; each bound address is printed as 'Floyd agent listening on <url>'.
        --no-rehearsal skips the deployments the agent rehearses on a private copy of itself before it listens.
        """;

    public static FloydAgentOptions Parse(IReadOnlyList<string> args)
    {
        var options = new FloydAgentOptions { ConsoleLogging = true };
        // The file first, wherever --config appears, so that every command-line option overrides it.
        for (var i = 0; i < args.Count; i++)
        {
            var (name, inlineValue) = Split(args[i]);
            if (name == "--config")
            {
                var path = inlineValue ?? (i + 1 < args.Count ? args[i + 1] : throw new FormatException("The option --config needs a value."));
                options = AgentConfigFile.Apply(options, path);
            }
        }

        var keys = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var (name, inlineValue) = Split(args[i]);
            string Value()
            {
                if (inlineValue != null) return inlineValue;
                if (i + 1 >= args.Count) throw new FormatException($"The option {name} needs a value.");
                return args[++i];
            }

            if (name == "--no-rehearsal")
            {
                options = inlineValue == null ? options with { RehearseOnStart = false } : throw new FormatException("The option --no-rehearsal takes no value.");
                continue;
            }

            options = name switch
            {
                "--config" => Skip(options, inlineValue, ref i),
                "--urls" => options with { Urls = Value().Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "--data-dir" => options with { DataDirectory = Value() },
                "--agent-id" => options with { AgentId = Value() },
                "--tls-certificate" => options with { TlsCertificatePath = Path.GetFullPath(Value()) },
                "--tls-certificate-key" => options with { TlsCertificateKeyPath = Path.GetFullPath(Value()) },
                "--authorized-key" => AddKey(options, keys, Value()),
                "--hash-algorithm" => options with { HashAlgorithm = ParseAlgorithm(Value()) },
                "--clock-skew" => options with { ClockSkew = DurationText.Parse(Value(), name) },
                "--max-body-bytes" => options with { MaxBodyBytes = ParsePositive(Value(), name) },
                "--keep-releases" => options with { KeepReleases = (int)ParseNonNegative(Value(), name) },
                "--max-expanded-bytes" => options with { MaxExpandedBytes = ParsePositive(Value(), name) },
                "--log-level" => options with { MinimumLogLevel = Enum.Parse<LogLevel>(Value(), ignoreCase: true) },
                _ => throw new FormatException($"Unknown option '{args[i]}'."),
            };
        }

        // Never on the command line, where every user of the machine can read it.
        if (Environment.GetEnvironmentVariable(TlsPasswordVariable) is { Length: > 0 } password) options = options with { TlsCertificatePassword = password };
        if (string.IsNullOrWhiteSpace(options.DataDirectory)) throw new FormatException("--data-dir is required.");
        if (options.AuthorizedKeyFiles.Count == 0) throw new FormatException("At least one --authorized-key (or authorizedKeys in the config file) is required.");
        return options;
    }

    public const string TlsPasswordVariable = "FLOYD_TLS_CERTIFICATE_PASSWORD";

    private static FloydAgentOptions AddKey(FloydAgentOptions options, List<string> keys, string path)
    {
        keys.Add(path);
        return options with { AuthorizedKeyFiles = keys.ToArray() };
    }

    private static (string Name, string? Value) Split(string arg)
    {
        var equals = arg.IndexOf('=');
        return arg.StartsWith("--", StringComparison.Ordinal) && equals > 2 ? (arg[..equals], arg[(equals + 1)..]) : (arg, null);
    }

    private static FloydAgentOptions Skip(FloydAgentOptions options, string? inlineValue, ref int i)
    {
        if (inlineValue == null) i++;
        return options;
    }

    internal static FloydHashAlgorithm ParseAlgorithm(string value) => value.ToLowerInvariant() switch
    {
        "sha1" => FloydHashAlgorithm.Sha1,
        "sha256" or "sha-256" => FloydHashAlgorithm.Sha256,
        _ => throw new FormatException($"--hash-algorithm must be sha1 or sha256, not '{value}'."),
    };

    private static long ParsePositive(string value, string name) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new FormatException($"{name} must be a positive whole number, not '{value}'.");

    private static long ParseNonNegative(string value, string name) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= int.MaxValue ? n : throw new FormatException($"{name} must be a whole number, not '{value}'.");
}
