using System.Diagnostics;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>
/// Times operations one by one under a name and reports each name's p50 and p99. The first calls of each name are
/// warm-up (connection pools, prepared statements, JIT) and are not recorded. Each recorded call is also tagged with
/// the events (see <see cref="Watch"/>) that happened while it ran, so a tail can be put down to its mechanism (a WAL
/// checkpoint, a garbage collection in this process) by counting rather than by guessing from times.
/// </summary>
public sealed class LatencyRecorder
{
    private readonly Dictionary<string, List<double>> _samples = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<int>> _tags = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _warmups = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly List<(string Name, Func<long> Count)> _events = [];
    private readonly long[] _before = new long[32];
    private readonly int _warmupCalls;

    public LatencyRecorder(int warmupCalls) => _warmupCalls = warmupCalls;

    /// <summary>The operations in the order they were first timed.</summary>
    public IReadOnlyList<string> Operations => _order;

    /// <summary>The names of the events watched, in the order of their bits in <see cref="Tags"/>.</summary>
    public IReadOnlyList<string> Events => _events.Select(e => e.Name).ToList();

    /// <summary>Tags every later call during which <paramref name="count"/> (a counter that only grows) moved.</summary>
    public void Watch(string name, Func<long> count)
    {
        if (_events.Count == _before.Length)
        {
            throw new InvalidOperationException($"At most {_before.Length} events can be watched.");
        }

        _events.Add((name, count));
    }

    public async Task<T> TimeAsync<T>(string operation, Func<Task<T>> work)
    {
        ReadEvents();
        var stopwatch = Stopwatch.StartNew();
        var result = await work();
        Record(operation, stopwatch.Elapsed.TotalMilliseconds);
        return result;
    }

    public async Task TimeAsync(string operation, Func<Task> work)
    {
        ReadEvents();
        var stopwatch = Stopwatch.StartNew();
        await work();
        Record(operation, stopwatch.Elapsed.TotalMilliseconds);
    }

    public IReadOnlyList<double> Samples(string operation) => _samples[operation];

    /// <summary>For each sample of <paramref name="operation"/>, a bit per watched event that happened during it.</summary>
    public IReadOnlyList<int> Tags(string operation) => _tags[operation];

    /// <summary>The samples of <paramref name="operation"/> during which the event named <paramref name="name"/> happened (or, with <paramref name="happened"/> false, did not).</summary>
    public IReadOnlyList<double> SamplesWith(string operation, string name, bool happened = true)
    {
        var bit = 1 << _events.FindIndex(e => e.Name == name);
        var samples = _samples[operation];
        var tags = _tags[operation];
        return samples.Where((_, i) => ((tags[i] & bit) != 0) == happened).ToList();
    }

    /// <summary>The samples of <paramref name="operation"/> during which none of the watched events happened.</summary>
    public IReadOnlyList<double> SamplesWithoutEvents(string operation)
    {
        var samples = _samples[operation];
        var tags = _tags[operation];
        return samples.Where((_, i) => tags[i] == 0).ToList();
    }

    public double TotalMilliseconds => _samples.Values.Sum(s => s.Sum());

    public int TotalCalls => _samples.Values.Sum(s => s.Count);

    private void ReadEvents()
    {
        for (var i = 0; i < _events.Count; i++)
        {
            _before[i] = _events[i].Count();
        }
    }

    private void Record(string operation, double milliseconds)
    {
        var tag = 0;
        for (var i = 0; i < _events.Count; i++)
        {
            if (_events[i].Count() != _before[i])
            {
                tag |= 1 << i;
            }
        }

        if (!_samples.TryGetValue(operation, out var samples))
        {
            samples = [];
            _samples[operation] = samples;
            _tags[operation] = [];
            _order.Add(operation);
        }

        var warmed = _warmups.GetValueOrDefault(operation);
        if (warmed < _warmupCalls)
        {
            _warmups[operation] = warmed + 1;
            return;
        }

        samples.Add(milliseconds);
        _tags[operation].Add(tag);
    }
}
