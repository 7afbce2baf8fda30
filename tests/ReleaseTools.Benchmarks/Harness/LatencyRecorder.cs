using System.Diagnostics;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>
/// Times operations one by one under a name and reports each name's p50 and p99. The first calls of each name are
/// warm-up (connection pools, prepared statements, JIT) and are not recorded.
/// </summary>
public sealed class LatencyRecorder
{
    private readonly Dictionary<string, List<double>> _samples = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _warmups = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly int _warmupCalls;

    public LatencyRecorder(int warmupCalls) => _warmupCalls = warmupCalls;

    /// <summary>The operations in the order they were first timed.</summary>
    public IReadOnlyList<string> Operations => _order;

    public async Task<T> TimeAsync<T>(string operation, Func<Task<T>> work)
    {
        var stopwatch = Stopwatch.StartNew();
        var result = await work();
        Record(operation, stopwatch.Elapsed.TotalMilliseconds);
        return result;
    }

    public async Task TimeAsync(string operation, Func<Task> work)
    {
        var stopwatch = Stopwatch.StartNew();
        await work();
        Record(operation, stopwatch.Elapsed.TotalMilliseconds);
    }

    public IReadOnlyList<double> Samples(string operation) => _samples[operation];

    public double TotalMilliseconds => _samples.Values.Sum(s => s.Sum());

    public int TotalCalls => _samples.Values.Sum(s => s.Count);

    private void Record(string operation, double milliseconds)
    {
        if (!_samples.TryGetValue(operation, out var samples))
        {
            samples = [];
            _samples[operation] = samples;
            _order.Add(operation);
        }

        var warmed = _warmups.GetValueOrDefault(operation);
        if (warmed < _warmupCalls)
        {
            _warmups[operation] = warmed + 1;
            return;
        }

        samples.Add(milliseconds);
    }
}
