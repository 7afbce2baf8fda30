using System.Collections;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// One real agent process configured by a YAML agent config file, releasing a tiny real service (python3 http.server)
/// from real .zip and .tar.gz packages, driven through the built module as a user types it. Each test has its own
/// service (own port, own section in the agent config) and its own store.
/// </summary>
public sealed class ActivationFixture : IAsyncLifetime
{
    public static readonly string[] Services = { "greeter-roundtrip", "greeter-hook", "greeter-health", "greeter-redeploy" };

    private readonly TempDirectory _directory = new("rt-activation");

    public TestKeys Keys { get; private set; } = null!;
    public AgentProcess Agent { get; private set; } = null!;
    public PowerShellSession Shell { get; private set; } = null!;
    public Dictionary<string, int> Ports { get; } = new();
    public string Template { get; private set; } = "";
    public string DataDirectory => _directory.Combine("agent-data");

    public async Task InitializeAsync()
    {
        TinyService.RequirePython();
        Keys = TestKeys.Create(_directory.CreateDirectory("keys"));
        Template = _directory.WriteFile("app.conf.template", TinyService.ConfigTemplate);
        var restart = _directory.WriteFile("restart.sh", TinyService.RestartScript);
        var sections = new List<string>();
        foreach (var service in Services)
        {
            // Free now; the service binds it when its release starts. 60 attempts: on a loaded machine a restarted python
            // service can take seconds before its port answers.
            Ports[service] = AgentFleet.ClosedPort();
            sections.Add($"""
                  {service}:
                    allowPackageHooks: true
                    hooks:
                      activate: {"{"} run: "sh {restart}", timeout: 20s {"}"}
                    healthCheck:
                      http: {"{"} url: "http://127.0.0.1:{Ports[service]}/health", expectStatus: 200, bodyContains: ok, timeout: 1s {"}"}
                      attempts: 60
                      interval: 100ms
                """);
        }

        var config = _directory.WriteFile("agent.yaml", "keepReleases: 3\nservices:\n" + string.Join("\n", sections) + "\n");
        Agent = await AgentProcess.StartAsync(DataDirectory, new[] { Keys.PublicKeyPath }, new[] { "--config", config });
        Shell = new PowerShellSession();
    }

    public string Package(string service, string version, string extension, params ArchiveEntry[] extra) =>
        TinyService.Package(_directory.Combine("packages", $"{service}-{version}.{extension}"), version, extra);

    public string NewStorePath() => _directory.Combine("stores", Guid.NewGuid().ToString("N") + ".db");

    public string ServiceDirectory(string service) => Path.Combine(DataDirectory, "services", service);

    /// <summary>Runs a script with $Store, $Key, $Template, $Service, $AgentPort and $ServicePort bound, store and key as defaults.</summary>
    public PowerShellResult Invoke(string store, string service, string script, IDictionary? extra = null)
    {
        var parameters = new Hashtable
        {
            ["Store"] = store,
            ["Key"] = Keys.Pkcs8PrivateKeyPath,
            ["Template"] = Template,
            ["Service"] = service,
            ["AgentPort"] = Agent.Port,
            ["ServicePort"] = Ports[service],
            ["Packages"] = extra ?? new Hashtable(),
        };
        return Shell.Invoke("param($Store, $Key, $Template, $Service, $AgentPort, $ServicePort, $Packages)\n" +
            "$PSDefaultParameterValues = @{ '*:StorePath' = $Store; '*:PrivateKeyPath' = $Key }\n" + script, parameters);
    }

    public async Task DisposeAsync()
    {
        Shell?.Dispose();
        if (Agent != null)
        {
            await Agent.DisposeAsync();
        }

        foreach (var service in Services)
        {
            TinyService.Stop(ServiceDirectory(service));
        }

        Keys?.Dispose();
        _directory.Dispose();
    }
}

public sealed class ActivationPipelineTests : IClassFixture<ActivationFixture>
{
    private const string Register = "Register-ServiceInstance -InstanceId \"$Service-01\" -Service $Service -Environment prod -HostName 127.0.0.1 -Port $AgentPort\n";
    private const string Deploy = "Get-ServiceInstance -Service $Service | Invoke-Deployment -Version $Version -PackageUrl $Packages[$Version] -ConfigPath $Template " +
        "-ConfigValues @{ Port = $ServicePort; Greeting = $Greeting; Health = $Health } -Force\n";

    private readonly ActivationFixture _fixture;

    public ActivationPipelineTests(ActivationFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task Deployment_makes_the_service_answer_the_new_version_and_config_and_rollback_brings_the_old_back_without_a_transfer()
    {
        const string service = "greeter-roundtrip";
        var store = _fixture.NewStorePath();
        var packages = new Hashtable
        {
            ["1.0.0"] = _fixture.Package(service, "1.0.0", "zip"),
            ["2.0.0"] = _fixture.Package(service, "2.0.0", "tar.gz"),
        };

        var first = _fixture.Invoke(store, service, Register + "$Version = '1.0.0'; $Greeting = 'hello'; $Health = 200\n" + Deploy, packages).ThrowOnError();
        var first_ = Assert.Single(first.Output);
        Assert.Equal("Succeeded", first_.Properties["Status"].Value.ToString());
        Assert.Equal(true, first_.Properties["HealthGatePassed"].Value);
        Assert.Equal("version=1.0.0 greeting=hello", await TinyService.AskAsync(_fixture.Ports[service]));

        var second = _fixture.Invoke(store, service, "$Version = '2.0.0'; $Greeting = 'bonjour'; $Health = 200\n" + Deploy, packages).ThrowOnError();
        Assert.Equal("Succeeded", Assert.Single(second.Output).Properties["Status"].Value.ToString());
        Assert.Equal("version=2.0.0 greeting=bonjour", await TinyService.AskAsync(_fixture.Ports[service]));

        var rollback = _fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service | Invoke-Rollback -Force").ThrowOnError();
        var rolledBack = Assert.Single(rollback.Output);
        Assert.Equal("Succeeded", rolledBack.Properties["Status"].Value.ToString());
        Assert.Equal("1.0.0", rolledBack.Properties["ToVersion"].Value);
        Assert.Equal(false, rolledBack.Properties["Transferred"].Value);
        Assert.Equal(true, rolledBack.Properties["HealthGatePassed"].Value);
        Assert.Equal("version=1.0.0 greeting=hello", await TinyService.AskAsync(_fixture.Ports[service]));
    }

    [Fact]
    public async Task A_release_whose_activate_hook_fails_is_reverted_and_the_store_keeps_the_previous_release()
    {
        const string service = "greeter-hook";
        var store = _fixture.NewStorePath();
        var packages = new Hashtable
        {
            ["1.0.0"] = _fixture.Package(service, "1.0.0", "tar.gz"),
            // The package's own activate hook fails (after the configured one started it): the agent must go back.
            ["2.0.0"] = _fixture.Package(service, "2.0.0", "zip", ArchiveEntry.Text("deploy/activate.sh", "echo 'migration 42 failed' >&2\nexit 3\n")),
        };
        _fixture.Invoke(store, service, Register + "$Version = '1.0.0'; $Greeting = 'hello'; $Health = 200\n" + Deploy, packages).ThrowOnError();

        var failed = _fixture.Invoke(store, service, "$Version = '2.0.0'; $Greeting = 'hi'; $Health = 200\n" + Deploy, packages);

        var result = Assert.Single(failed.Output);
        Assert.Equal("Failed", result.Properties["Status"].Value.ToString());
        Assert.Equal("ActivationHookFailed", result.Properties["ErrorId"].Value);
        Assert.Equal("activate", result.Properties["FailedCheck"].Value);
        Assert.Equal("1.0.0", result.Properties["RevertedTo"].Value);
        Assert.Contains("migration 42 failed", (string)result.Properties["AgentDetail"].Value);
        var error = Assert.Single(failed.Errors);
        Assert.Equal("ActivationHookFailed,ReleaseTools.Commands.InvokeDeploymentCommand", error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidResult, error.CategoryInfo.Category);
        Assert.Equal("version=1.0.0 greeting=hello", await TinyService.AskAsync(_fixture.Ports[service]));
        AssertStoreSaysStillOn(store, service, "1.0.0", ("2.0.0", "Reverted", "activate"), ("1.0.0", "Released", null));
    }

    [Fact]
    public async Task A_release_whose_health_url_answers_500_is_reverted_and_the_result_says_the_health_check_failed()
    {
        const string service = "greeter-health";
        var store = _fixture.NewStorePath();
        var packages = new Hashtable
        {
            ["1.0.0"] = _fixture.Package(service, "1.0.0", "zip"),
            ["2.0.0"] = _fixture.Package(service, "2.0.0", "zip"),
            ["3.0.0"] = _fixture.Package(service, "3.0.0", "zip"),
        };
        _fixture.Invoke(store, service, Register + "$Version = '1.0.0'; $Greeting = 'hello'; $Health = 200\n" + Deploy, packages).ThrowOnError();
        _fixture.Invoke(store, service, "$Version = '2.0.0'; $Greeting = 'hallo'; $Health = 200\n" + Deploy, packages).ThrowOnError();

        var failed = _fixture.Invoke(store, service, "$Version = '3.0.0'; $Greeting = 'hi'; $Health = 500\n" + Deploy, packages);

        var result = Assert.Single(failed.Output);
        Assert.Equal("Failed", result.Properties["Status"].Value.ToString());
        Assert.Equal("HealthCheckFailed", result.Properties["ErrorId"].Value);
        Assert.Equal("healthCheck", result.Properties["FailedCheck"].Value);
        Assert.Equal(false, result.Properties["HealthGatePassed"].Value);
        Assert.Equal("2.0.0", result.Properties["RevertedTo"].Value);
        Assert.Contains("answered 500, expected 200", (string)result.Properties["AgentDetail"].Value);
        Assert.Equal("HealthCheckFailed,ReleaseTools.Commands.InvokeDeploymentCommand", Assert.Single(failed.Errors).FullyQualifiedErrorId);
        Assert.Equal("version=2.0.0 greeting=hallo", await TinyService.AskAsync(_fixture.Ports[service]));
        AssertStoreSaysStillOn(store, service, "2.0.0", ("3.0.0", "Reverted", "healthCheck"), ("2.0.0", "Released", null), ("1.0.0", "Released", null));

        // The reverted attempt moved nothing: undoing its run is refused, and a plain rollback goes back from 2.0.0, not from 3.0.0.
        var undo = _fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service | Get-InstanceVersionHistory -Limit 1 | Invoke-Rollback -Force").ThrowOnError();
        Assert.Empty(undo.Output);
        Assert.Contains("never moved", Assert.Single(undo.Warnings));
        var rollback = Assert.Single(_fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service | Invoke-Rollback -Force").ThrowOnError().Output);
        Assert.Equal("Succeeded", rollback.Properties["Status"].Value.ToString());
        Assert.Equal("2.0.0", rollback.Properties["FromVersion"].Value);
        Assert.Equal("1.0.0", rollback.Properties["ToVersion"].Value);
        Assert.Equal("version=1.0.0 greeting=hello", await TinyService.AskAsync(_fixture.Ports[service]));
        var instance = Assert.Single(_fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service").ThrowOnError().Output);
        Assert.Equal("1.0.0", instance.Properties["Version"].Value);

        // The reverted bytes never became a release, so a rebuilt 3.0.0 package is no checksum conflict.
        File.Delete((string)packages["3.0.0"]!);
        packages["3.0.0"] = _fixture.Package(service, "3.0.0", "zip", ArchiveEntry.Text("FIXED", "health endpoint fixed\n"));
        var fixedRun = Assert.Single(_fixture.Invoke(store, service, "$Version = '3.0.0'; $Greeting = 'hi'; $Health = 200\n" + Deploy, packages).ThrowOnError().Output);
        Assert.Equal(("Succeeded", "1.0.0"), (fixedRun.Properties["Status"].Value.ToString(), fixedRun.Properties["FromVersion"].Value));
        var latest = _fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service | Get-InstanceVersionHistory -Limit 1").ThrowOnError().Output;
        Assert.Equal(("3.0.0", "Released"), ((string)latest[0].Properties["Version"].Value, latest[0].Properties["Outcome"].Value.ToString()));
    }

    [Fact]
    public async Task Redeploying_the_active_release_runs_its_hooks_and_health_gate_again()
    {
        const string service = "greeter-redeploy";
        var store = _fixture.NewStorePath();
        var serviceDirectory = _fixture.ServiceDirectory(service);
        var hookLog = Path.Combine(serviceDirectory, "after-activate.log");
        // A package hook that leaves a line per run and fails while the test's flag file exists.
        var afterActivate = ArchiveEntry.Text("deploy/afterActivate.sh",
            "echo \"$FLOYD_VERSION $FLOYD_STAGE\" >> \"$FLOYD_SERVICE_DIR/after-activate.log\"\nif [ -e \"$FLOYD_SERVICE_DIR/fail-next\" ]; then echo 'cache warm-up failed' >&2; exit 5; fi\n");
        var packages = new Hashtable { ["1.0.0"] = _fixture.Package(service, "1.0.0", "zip", afterActivate) };
        const string Redeploy = "Get-ServiceInstance -Service $Service | Invoke-Deployment -Version $Version -PackageUrl $Packages[$Version] -ConfigPath $Template " +
            "-ConfigValues @{ Port = $ServicePort; Greeting = $Greeting; Health = $Health } -Redeploy -Force\n";
        _fixture.Invoke(store, service, Register + "$Version = '1.0.0'; $Greeting = 'hello'; $Health = 200\n" + Deploy, packages).ThrowOnError();
        var firstPid = File.ReadAllText(Path.Combine(serviceDirectory, "service.pid")).Trim();

        var plain = Assert.Single(_fixture.Invoke(store, service, "$Version = '1.0.0'; $Greeting = 'hello'; $Health = 200\n" + Deploy, packages).ThrowOnError().Output);
        Assert.Equal("Unchanged", plain.Properties["Status"].Value.ToString());
        Assert.Single(File.ReadAllLines(hookLog));

        var again = Assert.Single(_fixture.Invoke(store, service, "$Version = '1.0.0'; $Greeting = 'hello'; $Health = 200\n" + Redeploy, packages).ThrowOnError().Output);
        Assert.Equal("Succeeded", again.Properties["Status"].Value.ToString());
        Assert.Equal(true, again.Properties["HealthGatePassed"].Value);
        Assert.Equal(new[] { "1.0.0 afterActivate", "1.0.0 afterActivate" }, File.ReadAllLines(hookLog));
        // The configured activate hook restarted the service: another process answers now.
        Assert.NotEqual(firstPid, File.ReadAllText(Path.Combine(serviceDirectory, "service.pid")).Trim());
        Assert.Equal("version=1.0.0 greeting=hello", await TinyService.AskAsync(_fixture.Ports[service]));

        File.WriteAllText(Path.Combine(serviceDirectory, "fail-next"), "");
        var failed = _fixture.Invoke(store, service, "$Version = '1.0.0'; $Greeting = 'hello'; $Health = 200\n" + Redeploy, packages);
        var result = Assert.Single(failed.Output);
        Assert.Equal("Failed", result.Properties["Status"].Value.ToString());
        Assert.Equal("afterActivate", result.Properties["FailedCheck"].Value);
        Assert.Null(result.Properties["RevertedTo"].Value);
        Assert.Contains("cache warm-up failed", (string)result.Properties["AgentDetail"].Value);
        Assert.Equal("ActivationHookFailed,ReleaseTools.Commands.InvokeDeploymentCommand", Assert.Single(failed.Errors).FullyQualifiedErrorId);
        Assert.Equal(3, File.ReadAllLines(hookLog).Length);
        // Nothing else to go back to: the release stays current and the store still says so, with no reverted row.
        Assert.Equal("version=1.0.0 greeting=hello", await TinyService.AskAsync(_fixture.Ports[service]));
        var instance = Assert.Single(_fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service").ThrowOnError().Output);
        Assert.Equal("1.0.0", instance.Properties["Version"].Value);
        var history = _fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service | Get-InstanceVersionHistory").ThrowOnError().Output;
        Assert.All(history, h => Assert.Equal("Released", h.Properties["Outcome"].Value.ToString()));
    }

    /// <summary>
    /// The registry says the instance runs <paramref name="version"/>, the run's target says the agent went back to it, and
    /// Get-InstanceVersionHistory lists the reverted attempt beside the releases (newest first: version, outcome, failed check).
    /// </summary>
    private void AssertStoreSaysStillOn(string store, string service, string version, params (string Version, string Outcome, string? FailedCheck)[] history)
    {
        var instance = Assert.Single(_fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service").ThrowOnError().Output);
        Assert.Equal(version, instance.Properties["Version"].Value);
        var rows = _fixture.Invoke(store, service, "Get-ServiceInstance -Service $Service | Get-InstanceVersionHistory").ThrowOnError().Output;
        Assert.Equal(history, rows.Select(h => ((string)h.Properties["Version"].Value, h.Properties["Outcome"].Value.ToString()!, (string?)h.Properties["FailedCheck"].Value)));
        Assert.Equal(version, rows[0].Properties["PreviousVersion"].Value);
        var run = Assert.Single(_fixture.Invoke(store, service, "Get-ReleaseDeployment -Limit 1").ThrowOnError().Output);
        var target = Assert.Single((IEnumerable<object>)run.Properties["Targets"].Value);
        Assert.Contains($"went back to {version}", System.Management.Automation.PSObject.AsPSObject(target).Properties["Error"].Value?.ToString());
    }
}
