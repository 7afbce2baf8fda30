using System.Text;

namespace ReleaseTools.Agent.Activation;

/// <summary>The gate's verdict: passed, or the last attempt's description and what it saw.</summary>
public sealed record GateOutcome(bool Passed, int Attempts, string Detail, string Output);

/// <summary>
/// Checks that the release just switched to actually serves: the HTTP check (status, optional body text) or the
/// command (exit code 0), tried up to the configured number of attempts with the interval between them.
/// </summary>
public sealed class HealthGate
{
    private const int BodyExcerptBytes = 2048;

    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        // The check is for this instance: never through a proxy, never a connection kept from the old release.
        UseProxy = false,
        PooledConnectionLifetime = TimeSpan.Zero,
        AllowAutoRedirect = false,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private readonly HookRunner _runner;
    private readonly ILogger<HealthGate> _logger;

    public HealthGate(HookRunner runner, ILogger<HealthGate> logger)
    {
        _runner = runner;
        _logger = logger;
    }

    public async Task<GateOutcome> CheckAsync(string service, HealthGateSettings gate, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var attempts = Math.Max(1, gate.Attempts);
        var last = new GateOutcome(false, 0, "the health check did not run", "");
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            if (attempt > 1)
            {
                await Task.Delay(gate.Interval, cancellationToken);
            }

            last = gate.Http != null
                ? await CheckHttpAsync(gate.Http, attempt, cancellationToken)
                : await CheckCommandAsync(service, gate.Command!, attempt, workingDirectory, environment, cancellationToken);
            if (last.Passed)
            {
                _logger.LogInformation("Health gate of {Service} passed on attempt {Attempt} of {Attempts}: {Detail}", service, attempt, attempts, last.Detail);
                return last;
            }

            _logger.LogWarning("Health gate of {Service}, attempt {Attempt} of {Attempts}: {Detail}", service, attempt, attempts, last.Detail);
        }

        return last with { Detail = $"{last.Detail} (after {attempts} attempt{(attempts == 1 ? "" : "s")})" };
    }

    private static async Task<GateOutcome> CheckHttpAsync(HttpHealthCheck check, int attempt, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(check.Timeout);
        try
        {
            using var response = await Http.GetAsync(check.Url, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var body = await ReadExcerptAsync(response.Content, timeout.Token);
            var status = (int)response.StatusCode;
            if (status != check.ExpectStatus)
            {
                return new GateOutcome(false, attempt, $"GET {check.Url} answered {status}, expected {check.ExpectStatus}", body);
            }

            if (check.BodyContains != null && !body.Contains(check.BodyContains, StringComparison.Ordinal))
            {
                return new GateOutcome(false, attempt, $"GET {check.Url} answered {status} without the text '{check.BodyContains}'", body);
            }

            return new GateOutcome(true, attempt, $"GET {check.Url} answered {status}", body);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new GateOutcome(false, attempt, $"GET {check.Url} did not answer within {check.Timeout.TotalSeconds:0.#} s", "");
        }
        catch (HttpRequestException ex)
        {
            return new GateOutcome(false, attempt, $"GET {check.Url} failed: {ex.Message}", "");
        }
    }

    private async Task<GateOutcome> CheckCommandAsync(string service, HookCommand command, int attempt, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var outcome = await _runner.RunAsync($"{service} healthCheck", command.Run, command.Timeout, workingDirectory, environment, cancellationToken);
        return new GateOutcome(outcome.Succeeded, attempt, outcome.Describe(command.Run), outcome.OutputTail);
    }

    private static async Task<string> ReadExcerptAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[BodyExcerptBytes];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
        }

        return Encoding.UTF8.GetString(buffer, 0, total);
    }
}
