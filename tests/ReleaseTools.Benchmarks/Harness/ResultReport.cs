using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>Prints results as a table and writes them as JSON, with the machine they were measured on.</summary>
public static class ResultReport
{
    public static string FormatTable(IEnumerable<ScenarioResult> results)
    {
        var rows = new List<string[]> { new[] { "scenario", "metric", "value", "unit", "target", "met" } };
        foreach (var result in results)
        {
            foreach (var metric in result.Metrics)
            {
                rows.Add(
                [
                    result.Scenario,
                    metric.Name,
                    metric.Value.ToString(Math.Abs(metric.Value) >= 100 ? "0.#" : "0.###", CultureInfo.InvariantCulture),
                    metric.Unit,
                    metric.Target ?? "",
                    metric.MeetsTarget switch { true => "yes", false => "NO", null => "" },
                ]);
            }
        }

        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var builder = new StringBuilder();
        foreach (var (row, index) in rows.Select((r, i) => (r, i)))
        {
            builder.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
            if (index == 0)
            {
                builder.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
            }
        }

        return builder.ToString();
    }

    public static void WriteJson(string path, IReadOnlyList<ScenarioResult> results)
    {
        var document = new
        {
            measuredAt = DateTimeOffset.UtcNow,
            machine = new
            {
                os = RuntimeInformation.OSDescription,
                architecture = RuntimeInformation.OSArchitecture.ToString(),
                processors = Environment.ProcessorCount,
                runtime = RuntimeInformation.FrameworkDescription,
                memoryBytes = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            },
            results,
        };
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        File.WriteAllText(path, JsonSerializer.Serialize(document, new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            // A ratio against a peer that did not run is NaN, and is written as such rather than failing the report.
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
    }
}
