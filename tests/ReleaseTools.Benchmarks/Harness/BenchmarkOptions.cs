namespace ReleaseTools.Benchmarks.Harness;

/// <summary>Command line: <c>[scenario...] [--out results.json] [--name value]...</c>. Sizes are options so a slow machine can run smaller.</summary>
public sealed class BenchmarkOptions
{
    public static readonly string[] AllScenarios = ["fanout", "fanout-real", "agent-warmup", "noop", "memory", "store", "coldstart"];

    private readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);

    public List<string> Scenarios { get; } = [];

    public string? OutputPath => Get("out");

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (i + 1 >= args.Length)
                {
                    throw new ArgumentException($"Option {arg} needs a value.");
                }

                options._values[arg[2..]] = args[++i];
            }
            else if (arg is "all")
            {
                options.Scenarios.AddRange(AllScenarios);
            }
            else if (AllScenarios.Contains(arg, StringComparer.OrdinalIgnoreCase) || arg.EndsWith("-child", StringComparison.Ordinal))
            {
                options.Scenarios.Add(arg.ToLowerInvariant());
            }
            else
            {
                throw new ArgumentException($"Unknown scenario '{arg}'. Scenarios: {string.Join(", ", AllScenarios)}, all.");
            }
        }

        if (options.Scenarios.Count == 0)
        {
            options.Scenarios.AddRange(AllScenarios);
        }

        return options;
    }

    public string? Get(string name) => _values.TryGetValue(name, out var value) ? value : null;

    public string GetRequired(string name) => Get(name) ?? throw new ArgumentException($"Option --{name} is required.");

    public int GetInt(string name, int defaultValue) => Get(name) is { } text ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : defaultValue;

    public IReadOnlyList<int> GetIntList(string name, params int[] defaultValues) =>
        Get(name) is { } text
            ? text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray()
            : defaultValues;
}
