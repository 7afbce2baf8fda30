using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>Unit tests of InstanceStepRunner alone, with a scripted Floyd client.</summary>
public class InstanceStepRunnerTests
{
    private static readonly FloydEndpoint Endpoint = new() { InstanceId = "i1", Host = "127.0.0.1", Port = 7070 };
    private static readonly RetryPolicy FastRetry = new() { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(5) };

    private static ReleaseSpec Release(RenderedConfig? config = null) => new("orders", "prod", "2.0", "fv-2",
        PackageSupply.Ready(new AcquiredPackage { Source = "http://x/p.zip", FilePath = "/tmp/p.zip", Md5 = "abc", Length = 100 }), config);

    private static readonly RenderedConfig Config = new() { FileName = "app.conf", Content = new byte[] { 1 }, Digest = "d" };

    [Fact]
    public async Task An_instance_that_runs_the_target_and_needs_nothing_is_unchanged_without_any_push()
    {
        var client = new ScriptedClient { Pings = { new PingResponse { CurrentVersion = "2.0", CurrentFVersion = "fv-2" } } };
        var runner = new InstanceStepRunner(client, FastRetry, force: false, "test");

        var outcome = await runner.RunAsync(Endpoint, Release(Config), (_, _) => { }, CancellationToken.None);

        Assert.True(outcome.Unchanged);
        Assert.Null(outcome.Failure);
        Assert.Equal(new[] { "ping" }, client.Calls);
    }

    [Fact]
    public async Task Force_pushes_and_activates_even_when_the_agent_is_current()
    {
        var client = new ScriptedClient
        {
            Pings = { new PingResponse { CurrentFVersion = "fv-2" }, new PingResponse { CurrentFVersion = "fv-2" } },
        };
        var runner = new InstanceStepRunner(client, FastRetry, force: true, "test");

        var outcome = await runner.RunAsync(Endpoint, Release(Config), (_, _) => { }, CancellationToken.None);

        Assert.False(outcome.Unchanged);
        Assert.Equal(new[] { "ping", "package", "config", "activate", "ping" }, client.Calls);
    }

    [Fact]
    public async Task Only_what_the_agent_needs_is_pushed_then_activation_is_verified()
    {
        var client = new ScriptedClient
        {
            Pings =
            {
                new PingResponse { NeedPackage = false, NeedConfig = true, CurrentVersion = "1.0", CurrentFVersion = "fv-1" },
                new PingResponse { CurrentVersion = "2.0", CurrentFVersion = "fv-2" },
            },
        };
        var steps = new List<string>();
        var runner = new InstanceStepRunner(client, FastRetry, force: false, "test");

        var outcome = await runner.RunAsync(Endpoint, Release(Config), (step, _) => steps.Add(step), CancellationToken.None);

        Assert.Null(outcome.Failure);
        Assert.False(outcome.PackageTransferred);
        Assert.True(outcome.ConfigTransferred);
        Assert.Equal("1.0", outcome.FromVersion);
        Assert.Equal("fv-1", outcome.FromFVersion);
        Assert.Equal(new[] { "ping", "config", "activate", "ping" }, client.Calls);
        Assert.Equal(new[] { "ping", "config", "activate", "verify" }, steps);
    }

    [Fact]
    public async Task Transient_failures_are_retried_with_backoff_and_counted_as_attempts()
    {
        var client = new ScriptedClient
        {
            Pings = { new PingResponse { NeedPackage = true, CurrentFVersion = "fv-1" }, new PingResponse { CurrentFVersion = "fv-2" } },
            PackageFailures = { Transient("package"), Transient("package") },
        };
        var steps = new List<(string, int)>();
        var runner = new InstanceStepRunner(client, FastRetry, force: false, "test");

        var outcome = await runner.RunAsync(Endpoint, Release(), (step, attempt) => steps.Add((step, attempt)), CancellationToken.None);

        Assert.Null(outcome.Failure);
        Assert.Equal(3, outcome.Attempts);
        Assert.Equal(3, client.Calls.Count(c => c == "package"));
        Assert.Contains(("retry-wait", 3), steps);
        Assert.True(outcome.PackageTransferred);
        Assert.Equal(100, outcome.PackageBytes);
    }

    [Fact]
    public async Task Transient_failures_past_the_last_try_fail_the_instance_with_the_step()
    {
        var client = new ScriptedClient
        {
            Pings = { new PingResponse { NeedPackage = true } },
            PackageFailures = { Transient("package"), Transient("package"), Transient("package") },
        };
        var runner = new InstanceStepRunner(client, FastRetry, force: false, "test");

        var outcome = await runner.RunAsync(Endpoint, Release(), (_, _) => { }, CancellationToken.None);

        Assert.NotNull(outcome.Failure);
        Assert.Equal("package", outcome.Failure!.Step);
        Assert.Equal(EngineErrorIds.FloydRequestFailed, outcome.Failure.ErrorId);
        Assert.Equal(TargetStatus.Failed, outcome.Failure.Status);
        Assert.Contains("503", outcome.Failure.Message);
        Assert.Equal(3, client.Calls.Count(c => c == "package"));
    }

    [Fact]
    public async Task Signature_and_md5_rejections_are_never_retried()
    {
        var signature = new ScriptedClient
        {
            PingFailures = { new FloydException("i1", FloydStep.Ping, "signature rejected", 401, FloydErrorCodes.SignatureInvalid, "bad signature") },
        };
        var md5 = new ScriptedClient
        {
            Pings = { new PingResponse { NeedPackage = true } },
            PackageFailures = { new FloydException("i1", FloydStep.Package, "md5 mismatch", 422, FloydErrorCodes.PackageMd5Mismatch, "body MD5 differs") },
        };

        var signatureOutcome = await new InstanceStepRunner(signature, FastRetry, false, "t").RunAsync(Endpoint, Release(), (_, _) => { }, CancellationToken.None);
        var md5Outcome = await new InstanceStepRunner(md5, FastRetry, false, "t").RunAsync(Endpoint, Release(), (_, _) => { }, CancellationToken.None);

        Assert.Equal(EngineErrorIds.FloydSignatureRejected, signatureOutcome.Failure!.ErrorId);
        Assert.Single(signature.Calls);
        Assert.Equal(EngineErrorIds.FloydChecksumRejected, md5Outcome.Failure!.ErrorId);
        Assert.Contains("body MD5 differs", md5Outcome.Failure.Message);
        Assert.Equal(1, md5.Calls.Count(c => c == "package"));
    }

    [Fact]
    public async Task An_agent_that_does_not_answer_is_unreachable()
    {
        var client = new ScriptedClient
        {
            PingFailures = Enumerable.Range(0, 3).Select(_ =>
                new FloydException("i1", FloydStep.Ping, "connection refused", isTransient: true, isUnreachable: true)).ToList(),
        };

        var outcome = await new InstanceStepRunner(client, FastRetry, false, "t").RunAsync(Endpoint, Release(), (_, _) => { }, CancellationToken.None);

        Assert.Equal(TargetStatus.Unreachable, outcome.Failure!.Status);
        Assert.Equal(EngineErrorIds.InstanceUnreachable, outcome.Failure.ErrorId);
        Assert.Contains("127.0.0.1:7070", outcome.Failure.Message);
        Assert.Equal(3, outcome.Attempts);
    }

    [Fact]
    public async Task Verification_fails_when_the_agent_reports_another_release_after_activation()
    {
        var client = new ScriptedClient
        {
            Pings = { new PingResponse { NeedPackage = true, CurrentFVersion = "fv-1" }, new PingResponse { CurrentVersion = "9", CurrentFVersion = "fv-9" } },
        };

        var outcome = await new InstanceStepRunner(client, FastRetry, false, "t").RunAsync(Endpoint, Release(), (_, _) => { }, CancellationToken.None);

        Assert.Equal("verify", outcome.Failure!.Step);
        Assert.Equal(EngineErrorIds.InstanceVerifyFailed, outcome.Failure.ErrorId);
        Assert.Contains("fv-9", outcome.Failure.Message);
    }

    [Fact]
    public async Task Cancellation_escapes_as_operation_cancelled()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new InstanceStepRunner(new ScriptedClient(), FastRetry, false, "t").RunAsync(Endpoint, Release(), (_, _) => { }, cancel.Token));
    }

    private static FloydException Transient(string step) =>
        new("i1", FloydStep.Package, $"{step} failed: 503 Service Unavailable", 503, isTransient: true);

    /// <summary>Answers pings from a queue (last answer repeats) and fails calls from per-step failure queues.</summary>
    private sealed class ScriptedClient : IFloydClient
    {
        public List<PingResponse> Pings { get; init; } = new();
        public List<FloydException> PingFailures { get; init; } = new();
        public List<FloydException> PackageFailures { get; init; } = new();
        public List<string> Calls { get; } = new();
        private int _ping;

        public Task<AgentHealth> CheckHealthAsync(FloydEndpoint endpoint, CancellationToken cancellationToken) => Task.FromResult(new AgentHealth { Healthy = true });

        public Task<PingResponse> PingAsync(FloydEndpoint endpoint, PingRequest request, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Calls.Add("ping");
            if (PingFailures.Count > 0)
            {
                var failure = PingFailures[0];
                PingFailures.RemoveAt(0);
                throw failure;
            }

            var response = Pings[Math.Min(_ping, Pings.Count - 1)];
            _ping++;
            return Task.FromResult(response);
        }

        public Task PushPackageAsync(FloydEndpoint endpoint, PackagePush push, CancellationToken cancellationToken)
        {
            Calls.Add("package");
            if (PackageFailures.Count > 0)
            {
                var failure = PackageFailures[0];
                PackageFailures.RemoveAt(0);
                throw failure;
            }

            return Task.CompletedTask;
        }

        public Task PushConfigAsync(FloydEndpoint endpoint, ConfigPush push, CancellationToken cancellationToken)
        {
            Calls.Add("config");
            return Task.CompletedTask;
        }

        public Task<ActivationResult> ActivateAsync(FloydEndpoint endpoint, ActivateRequest request, CancellationToken cancellationToken)
        {
            Calls.Add("activate");
            return Task.FromResult(new ActivationResult { HealthCheck = "none" });
        }

        public Task<AgentStatus> GetStatusAsync(FloydEndpoint endpoint, CancellationToken cancellationToken) => Task.FromResult(new AgentStatus());
    }
}
