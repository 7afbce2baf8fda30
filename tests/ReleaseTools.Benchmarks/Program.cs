using ReleaseTools.Benchmarks.Harness;
using ReleaseTools.Benchmarks.Scenarios;

// dotnet run -c Release --project tests/ReleaseTools.Benchmarks -- [fanout|fanout-real|agent-warmup|noop|memory|store|coldstart|all] [--out results.json] [--option value]...
BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

switch (options.Scenarios)
{
    case ["memory-child"]:
        return await MemoryScenario.RunChildAsync(options, cancellation.Token);
    case ["push-child"]:
        return await ReleaseTools.Benchmarks.Baseline.RawFanOut.RunChildAsync(options, cancellation.Token);
}

var results = new List<ScenarioResult>();
foreach (var scenario in options.Scenarios)
{
    Console.WriteLine($"== {scenario} ({DateTimeOffset.UtcNow:HH:mm:ss} UTC)");
    ScenarioResult result;
    try
    {
        result = scenario switch
        {
            "fanout" => await FanOutScenario.RunAsync(options, cancellation.Token),
            "fanout-real" => await RealisticFanOutScenario.RunAsync(options, cancellation.Token),
            "agent-warmup" => await AgentWarmUpScenario.RunAsync(options, cancellation.Token),
            "noop" => await NoOpRedeployScenario.RunAsync(options, cancellation.Token),
            "memory" => await MemoryScenario.RunAsync(options, cancellation.Token),
            "store" => await StoreScaleScenario.RunAsync(options, cancellation.Token),
            "coldstart" => await ColdStartScenario.RunAsync(options, cancellation.Token),
            _ => throw new ArgumentException($"Unknown scenario {scenario}."),
        };
    }
    catch (Exception e) when (e is not OperationCanceledException)
    {
        // One broken scenario must not throw away the figures of the others; it is reported as a missed target.
        result = new ScenarioResult(scenario, "failed");
        result.Add("scenario completed", 0, "", "= 1", false);
        result.Notes.Add(e.ToString());
    }

    results.Add(result);
    Console.WriteLine(ResultReport.FormatTable([result]));
    foreach (var note in result.Notes)
    {
        Console.WriteLine($"note: {note}");
    }

    Console.WriteLine();
}

if (options.OutputPath is { } outputPath)
{
    ResultReport.WriteJson(outputPath, results);
    Console.WriteLine($"Results written to {Path.GetFullPath(outputPath)}");
}

// Figures that miss a target are reported, not hidden; the exit code says so for scripts.
return results.Any(r => r.AnyTargetMissed) ? 1 : 0;
