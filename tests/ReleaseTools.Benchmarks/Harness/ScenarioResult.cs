using System.Text.Json.Serialization;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>One figure a scenario measured, with the target it is judged against (if any).</summary>
public sealed record Metric(string Name, double Value, string Unit, string? Target = null, bool? MeetsTarget = null);

public sealed class ScenarioResult
{
    public ScenarioResult(string scenario, string description)
    {
        Scenario = scenario;
        Description = description;
    }

    public string Scenario { get; }
    public string Description { get; }
    public List<Metric> Metrics { get; } = [];
    public Dictionary<string, string> Parameters { get; } = [];
    public List<string> Notes { get; } = [];

    public Metric Add(string name, double value, string unit, string? target = null, bool? meetsTarget = null)
    {
        var metric = new Metric(name, value, unit, target, meetsTarget);
        Metrics.Add(metric);
        return metric;
    }

    /// <summary>Adds a figure judged "lower is better" against an upper bound.</summary>
    public Metric AddAtMost(string name, double value, string unit, double limit) =>
        Add(name, value, unit, $"<= {limit.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} {unit}".TrimEnd(), value <= limit);

    [JsonIgnore]
    public bool AnyTargetMissed => Metrics.Any(m => m.MeetsTarget == false);
}
