using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>
/// Middleware put in front of one agent's Floyd endpoints: counts requests per path, tracks how many requests are in
/// flight across every agent sharing a <see cref="ConcurrencyGauge"/>, and injects faults (status codes for the next N
/// requests to a path, delays) for retry, failure and cancellation tests.
/// </summary>
public sealed class AgentProbe
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (int Status, int Remaining)> _faults = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TimeSpan> _delays = new(StringComparer.Ordinal);
    private readonly ConcurrencyGauge _gauge;

    public AgentProbe(ConcurrencyGauge gauge)
    {
        _gauge = gauge;
    }

    public int Count(string path) => _counts.TryGetValue(path, out var n) ? n : 0;

    public int Total => _counts.Values.Sum();

    public void ResetCounts() => _counts.Clear();

    /// <summary>The next <paramref name="times"/> requests to the path get this status with a JSON error body (int.MaxValue: always).</summary>
    public void Fail(string path, int status, int times = int.MaxValue) => _faults[path] = (status, times);

    public void ClearFaults() => _faults.Clear();

    public void Delay(string path, TimeSpan delay) => _delays[path] = delay;

    public void Install(IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var path = context.Request.Path.Value ?? "/";
        _counts.AddOrUpdate(path, 1, (_, n) => n + 1);
        _gauge.Enter();
        try
        {
            if (_delays.TryGetValue(path, out var delay))
            {
                await Task.Delay(delay, context.RequestAborted);
            }

            if (TryTakeFault(path, out var status))
            {
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync($"{{\"error\":\"injected_fault\",\"message\":\"test fault {status} on {path}\"}}");
                return;
            }

            await next(context);
        }
        finally
        {
            _gauge.Exit();
        }
    });

    private bool TryTakeFault(string path, out int status)
    {
        while (_faults.TryGetValue(path, out var fault))
        {
            if (fault.Remaining <= 0)
            {
                break;
            }

            var next = fault.Remaining == int.MaxValue ? fault : (fault.Status, fault.Remaining - 1);
            if (_faults.TryUpdate(path, next, fault))
            {
                status = fault.Status;
                return true;
            }
        }

        status = 0;
        return false;
    }
}

/// <summary>Requests in flight across a set of agents, and the most seen at once.</summary>
public sealed class ConcurrencyGauge
{
    private int _current;
    private int _peak;

    public int Peak => Volatile.Read(ref _peak);

    public void Enter()
    {
        var now = Interlocked.Increment(ref _current);
        int peak;
        while ((peak = Volatile.Read(ref _peak)) < now && Interlocked.CompareExchange(ref _peak, now, peak) != peak)
        {
        }
    }

    public void Exit() => Interlocked.Decrement(ref _current);

    public void Reset() => Interlocked.Exchange(ref _peak, Volatile.Read(ref _current));
}
