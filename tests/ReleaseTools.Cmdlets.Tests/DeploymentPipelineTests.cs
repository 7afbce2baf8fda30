using System.Management.Automation;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>The pipelines users type, against real agents and a real store: deploy, history, rollback, resume, failures.</summary>
public sealed class DeploymentPipelineTests : IClassFixture<AgentFleet>
{
    internal const string RegisterFleet = """
        $i = 0
        $Ports | ForEach-Object {
            $i++
            [pscustomobject]@{ InstanceId = "$Service-0$i"; Service = $Service; Environment = 'prod'; Host = '127.0.0.1'; Port = $_ }
        } | Register-ServiceInstance

        """;

    private readonly AgentFleet _fleet;

    public DeploymentPipelineTests(AgentFleet fleet) => _fleet = fleet;

    [Fact]
    public void Register_deploy_history_and_rollback_round_trip_through_the_pipeline()
    {
        var store = _fleet.NewStorePath();
        var first = _fleet.Invoke(store, "$Service = 'shop'\n" + RegisterFleet + """
            Get-ServiceInstance -Service shop | Invoke-Deployment -Version 1.0.0 -PackageUrl $V1 -ConfigPath $Config -ConfigValues @{ Level = 'info' } -Force
            """).ThrowOnError();

        Assert.Equal(3, first.Output.Count);
        Assert.All(first.Output, r =>
        {
            Assert.Equal("ReleaseTools.DeploymentResult", r.TypeNames[0]);
            Assert.Equal("Succeeded", r.Properties["Status"].Value.ToString());
            Assert.Equal("1.0.0", r.Properties["ToVersion"].Value);
            Assert.True((bool)r.Properties["Transferred"].Value);
            Assert.Equal(1, r.Properties["Batch"].Value);
        });
        Assert.Single(first.Output.Select(r => r.Properties["DeploymentId"].Value).Distinct());

        var second = _fleet.Invoke(store, """
            $second = Get-ServiceInstance -Service shop | Invoke-Deployment -Version 2.0.0 -PackageUrl $V2 -ConfigPath $Config -ConfigValues @{ Level = 'debug' } -BatchSize 2 -Force
            $second
            """).ThrowOnError();
        Assert.Equal(new[] { 1, 1, 2 }, second.Values<int>("Batch").Order());
        Assert.All(second.Output, r => Assert.Equal("1.0.0", r.Properties["FromVersion"].Value));

        var history = _fleet.Invoke(store, "Get-ServiceInstance -Service shop | Get-InstanceVersionHistory").ThrowOnError();
        Assert.Equal(6, history.Output.Count);
        foreach (var perInstance in history.Output.GroupBy(h => (string)h.Properties["InstanceId"].Value))
        {
            Assert.Equal(new[] { "2.0.0", "1.0.0" }, perInstance.Select(h => (string)h.Properties["Version"].Value));
            Assert.Equal("1.0.0", perInstance.First().Properties["PreviousVersion"].Value);
        }

        // Deployment results bind to Invoke-Rollback by InstanceId; the default target is the previous release.
        var rollback = _fleet.Invoke(store, """
            Get-ReleaseDeployment -Limit 1 | ForEach-Object Targets | Where-Object Status -eq Succeeded | Invoke-Rollback -Force
            """).ThrowOnError();
        Assert.Equal(3, rollback.Output.Count);
        Assert.All(rollback.Output, r =>
        {
            Assert.Equal("Succeeded", r.Properties["Status"].Value.ToString());
            Assert.Equal("Rollback", r.Properties["Operation"].Value.ToString());
            Assert.Equal("2.0.0", r.Properties["FromVersion"].Value);
            Assert.Equal("1.0.0", r.Properties["ToVersion"].Value);
        });

        Assert.All(_fleet.Invoke(store, "Get-ServiceInstance -Service shop").ThrowOnError().Output, i => Assert.Equal("1.0.0", i.Properties["Version"].Value));
        // The rollback run is listed with the one release all its instances went back to.
        var run = Assert.Single(_fleet.Invoke(store, "Get-ReleaseDeployment -Limit 1").ThrowOnError().Output);
        Assert.Equal(("Rollback", "1.0.0"), (run.Properties["Operation"].Value.ToString(), (string)run.Properties["Version"].Value));
        var latest = _fleet.Invoke(store, "Get-ServiceInstance -Service shop | Get-InstanceVersionHistory -Limit 1").ThrowOnError();
        Assert.All(latest.Output, h => Assert.Equal("Rollback", h.Properties["Operation"].Value.ToString()));

        // The agents themselves, not only the store, run the rolled-back release.
        var health = _fleet.Invoke(store, "Get-ServiceInstance -Service shop | Test-ServiceInstance").ThrowOnError();
        Assert.Equal(3, health.Output.Count);
        Assert.All(health.Output, h =>
        {
            Assert.True((bool)h.Properties["Reachable"].Value);
            Assert.Equal("1.0.0", h.Properties["Version"].Value);
        });

        var runs = _fleet.Invoke(store, "Get-ReleaseDeployment").ThrowOnError();
        Assert.Equal(new[] { "Rollback", "Deploy", "Deploy" }, runs.Values<string>("Operation"));
        Assert.All(runs.Output, d => Assert.Equal("Succeeded", d.Properties["Status"].Value.ToString()));
    }

    [Fact]
    public void Deploying_the_release_an_instance_already_runs_reports_Unchanged_without_a_transfer()
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, "$Service = 'cart'\n" + RegisterFleet + "Invoke-Deployment -Service cart -Version 1.0.0 -PackageUrl $V1 -Force").ThrowOnError();

        var again = _fleet.Invoke(store, "Invoke-Deployment -Service cart -Version 1.0.0 -PackageUrl $V1 -Force").ThrowOnError();

        Assert.Equal(3, again.Output.Count);
        Assert.All(again.Output, r =>
        {
            Assert.Equal("Unchanged", r.Properties["Status"].Value.ToString());
            Assert.False((bool)r.Properties["Transferred"].Value);
        });
    }

    [Fact]
    public void WhatIf_prints_the_plan_and_changes_neither_the_store_nor_the_agents()
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, "$Service = 'search'\n" + RegisterFleet + "Invoke-Deployment -Service search -Version 1.0.0 -PackageUrl $V1 -Force").ThrowOnError();
        var storeBytes = File.ReadAllBytes(store);

        var whatIf = _fleet.Invoke(store, "Get-ServiceInstance -Service search | Invoke-Deployment -Version 2.0.0 -PackageUrl $V2 -BatchSize 2 -WhatIf").ThrowOnError();

        Assert.Empty(whatIf.Output);
        var plan = Assert.Single(whatIf.Information, i => i.Tags.Contains("WhatIf")).MessageData.ToString()!;
        Assert.StartsWith("Deploy version 2.0.0 to 3 instances in 2 batches: 3 would change, none already runs its release; ", plan);
        Assert.Contains(" of package data would be sent.", plan);
        Assert.Contains("search-01 1.0.0 -> 2.0.0", plan);
        Assert.Contains("Batch 2:", plan);

        Assert.Single(_fleet.Invoke(store, "Get-ReleaseDeployment").ThrowOnError().Output);
        Assert.All(_fleet.Invoke(store, "Get-ServiceInstance -Service search").ThrowOnError().Output, i => Assert.Equal("1.0.0", i.Properties["Version"].Value));
        Assert.All(_fleet.Invoke(store, "Test-ServiceInstance -Service search").ThrowOnError().Output, h => Assert.Equal("1.0.0", h.Properties["Version"].Value));
        Assert.Equal(storeBytes, File.ReadAllBytes(store));

        // The same plan for a rollback, equally without effect.
        var rollbackWhatIf = _fleet.Invoke(store, "Invoke-Rollback -Service search -WhatIf").ThrowOnError();
        Assert.Empty(rollbackWhatIf.Output);
        Assert.Contains("has no earlier release", Assert.Single(rollbackWhatIf.Information, i => i.Tags.Contains("WhatIf")).MessageData.ToString());
        Assert.Equal(storeBytes, File.ReadAllBytes(store));
    }

    [Fact]
    public void An_unreachable_instance_writes_an_error_record_while_the_others_succeed_and_can_be_resumed()
    {
        var store = _fleet.NewStorePath();
        var ports = _fleet.Agents.Take(2).Select(a => a.Port).Append(AgentFleet.ClosedPort()).ToArray();
        var run = _fleet.Invoke(store, "$Service = 'mail'\n" + RegisterFleet + """
            Get-ServiceInstance -Service mail | Invoke-Deployment -Version 1.0.0 -PackageUrl $V1 -RetryCount 0 -Force
            """, ports);

        Assert.Null(run.Terminating);
        Assert.Equal(3, run.Output.Count);
        var failed = Assert.Single(run.Output, r => r.Properties["Status"].Value.ToString() != "Succeeded");
        Assert.Equal("mail-03", failed.Properties["InstanceId"].Value);
        Assert.Contains(failed.Properties["Status"].Value.ToString(), new[] { "Unreachable", "Failed" });
        Assert.Equal(2, run.Output.Count(r => r.Properties["Status"].Value.ToString() == "Succeeded"));

        var error = Assert.Single(run.Errors);
        var errorId = (string?)failed.Properties["ErrorId"].Value ?? "DeploymentInstanceFailed";
        Assert.Equal($"{errorId},ReleaseTools.Commands.InvokeDeploymentCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.Equal("mail-03", error.TargetObject);
        Assert.Contains("Resume-Deployment", error.ErrorDetails.RecommendedAction);

        // Fix the address, then resume: only the instance that did not succeed is attempted again.
        var resumed = _fleet.Invoke(store, $"""
            Register-ServiceInstance -InstanceId mail-03 -Service mail -Environment prod -HostName 127.0.0.1 -Port {_fleet.Agents[2].Port}
            Get-ReleaseDeployment -Limit 1 | Resume-Deployment -Force
            """).ThrowOnError();
        var retried = Assert.Single(resumed.Output);
        Assert.Equal("mail-03", retried.Properties["InstanceId"].Value);
        Assert.Equal("Succeeded", retried.Properties["Status"].Value.ToString());
    }

    [Fact]
    public void Under_Azure_Pipelines_a_failed_instance_is_also_reported_as_a_logging_command()
    {
        var store = _fleet.NewStorePath();
        var ports = new[] { _fleet.Agents[0].Port, AgentFleet.ClosedPort() };
        var run = _fleet.Invoke(store, "$Service = 'queue'\n" + RegisterFleet + """
            $env:TF_BUILD = 'True'
            try { Invoke-Deployment -Service queue -Version 1.0.0 -PackageUrl $V1 -RetryCount 0 -Force }
            finally { $env:TF_BUILD = $null }
            """, ports);

        var failed = Assert.Single(run.Output, r => r.Properties["Status"].Value.ToString() != "Succeeded");
        var logged = Assert.Single(run.Information, i => i.Tags.Contains("AzureDevOps") && i.MessageData.ToString()!.Contains("type=error", StringComparison.Ordinal)).MessageData.ToString()!;
        Assert.StartsWith($"##vso[task.logissue type=error;code={failed.Properties["ErrorId"].Value ?? "DeploymentInstanceFailed"}]", logged);
        Assert.Contains("queue-02", logged);
        Assert.DoesNotContain("\n", logged);
        Assert.Single(run.Errors);
    }

    [Fact]
    public void Stopping_the_pipeline_cancels_a_hanging_deployment_promptly_and_records_it_cancelled()
    {
        var store = _fleet.NewStorePath();
        using var silent = AgentFleet.SilentListener();
        _fleet.Invoke(store, "$Service = 'slow'\n" + RegisterFleet, new[] { ((System.Net.IPEndPoint)silent.LocalEndpoint).Port }).ThrowOnError();

        var stopTook = _fleet.Shell.InvokeThenStop(
            AgentFleet.Prologue + "Invoke-Deployment -Service slow -Version 1.0.0 -PackageUrl $V1 -RetryCount 0 -Force",
            AgentFleet.Parameters(_fleet, store, null),
            TimeSpan.FromSeconds(3));

        Assert.True(stopTook < TimeSpan.FromSeconds(10), $"Stopping took {stopTook}.");
        var run = Assert.Single(_fleet.Invoke(store, "Get-ReleaseDeployment").ThrowOnError().Output);
        Assert.Equal("Cancelled", run.Properties["Status"].Value.ToString());
    }

    [Fact]
    public void ErrorAction_Stop_turns_an_instance_failure_into_a_catchable_exception()
    {
        var store = _fleet.NewStorePath();
        var ports = new[] { AgentFleet.ClosedPort() };
        var run = _fleet.Invoke(store, "$Service = 'pay'\n" + RegisterFleet + """
            try {
                Invoke-Deployment -Service pay -Version 1.0.0 -PackageUrl $V1 -RetryCount 0 -Force -ErrorAction Stop
                'not reached'
            }
            catch {
                "caught $($_.FullyQualifiedErrorId) for $($_.TargetObject)"
            }
            """, ports);

        var lines = run.Output.Select(o => o.BaseObject).OfType<string>().ToList();
        var caught = Assert.Single(lines, l => l.StartsWith("caught ", StringComparison.Ordinal));
        Assert.EndsWith("for pay-01", caught);
        Assert.Contains(",ReleaseTools.Commands.InvokeDeploymentCommand", caught);
        Assert.DoesNotContain("not reached", lines);
    }

    [Fact]
    public void A_missing_key_or_an_unsupported_package_url_is_terminating_and_records_nothing()
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, "$Service = 'auth'\n" + RegisterFleet).ThrowOnError();

        // try/catch sees only terminating errors: a non-terminating one would fall through to 'continued'.
        var noKey = _fleet.Invoke(store, """
            try { Invoke-Deployment -Service auth -Version 1.0.0 -PackageUrl $V1 -PrivateKeyPath ./no-such-key.pem -Force; 'continued' }
            catch { $_ }
            """);
        var keyError = Assert.IsType<ErrorRecord>(Assert.Single(noKey.Output).BaseObject);
        Assert.StartsWith("PrivateKeyNotFound,", keyError.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, keyError.CategoryInfo.Category);

        var badUrl = _fleet.Invoke(store, """
            try { Invoke-Deployment -Service auth -Version 1.0.0 -PackageUrl ftp://127.0.0.1/app.zip -Force; 'continued' }
            catch { $_ }
            """);
        var urlError = Assert.IsType<ErrorRecord>(Assert.Single(badUrl.Output).BaseObject);
        Assert.StartsWith("PackageUrlUnsupportedScheme,", urlError.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, urlError.CategoryInfo.Category);

        Assert.Empty(_fleet.Invoke(store, "Get-ReleaseDeployment").ThrowOnError().Output);
        Assert.All(_fleet.Invoke(store, "Get-ServiceInstance -Service auth").ThrowOnError().Output, i => Assert.Null(i.Properties["Version"].Value));
    }
}
