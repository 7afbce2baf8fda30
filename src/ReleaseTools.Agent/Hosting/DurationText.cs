using System.Globalization;

namespace ReleaseTools.Agent.Hosting;

/// <summary>Durations as operators write them: <c>30</c> (seconds), <c>500ms</c>, <c>30s</c>, <c>2m</c>, <c>1h</c> or <c>hh:mm:ss</c>.</summary>
public static class DurationText
{
    public static TimeSpan Parse(string value, string name)
    {
        var text = value.Trim();
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var count) && count > 0)
            {
                return TimeSpan.FromSeconds(count * seconds);
            }
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain) && plain > 0)
            return TimeSpan.FromSeconds(plain);
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero)
            return span;
        throw new FormatException($"{name} must be a positive duration such as 30, 500ms, 30s, 2m, 1h or hh:mm:ss, not '{value}'.");
    }
}
