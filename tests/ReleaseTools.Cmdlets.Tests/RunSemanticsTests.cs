using System.Management.Automation;
using System.Security.Cryptography;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// Runs a user can trust, repeated as users type them against real agents and a real store: resume never downgrades,
/// in-progress and cancelled runs count truthfully, rollbacks that cannot work are refused up front, filters mean the
/// same everywhere, -WhatIf works without a key, a deployment result is undone exactly, one result per instance,
/// configs are kept, released bytes are protected, and a dead run's lease can be released by a command that exists.
/// </summary>
public sealed class RunSemanticsTests : IClassFixture<AgentFleet>, IDisposable
{
    /// <summary>Registers one instance per agent port as $Service-01, -02, ... (the inventory rows a user pipes).</summary>
    private const string Register = DeploymentPipelineTests.RegisterFleet;

    private readonly AgentFleet _fleet;
    private readonly TempDirectory _directory = new("rt-run-semantics");
    private readonly string _packageV3;
    private readonly string _otherBytesV1;

    public RunSemanticsTests(AgentFleet fleet)
    {
        _fleet = fleet;
        _packageV3 = _directory.WriteFile("app-3.0.0.bin", RandomNumberGenerator.GetBytes(64 * 1024));
        _otherBytesV1 = _directory.WriteFile("rebuilt/app-1.0.0.bin", RandomNumberGenerator.GetBytes(64 * 1024));
    }

    private PowerShellResult Invoke(string store, string service, string script, int[]? ports = null)
        => _fleet.Invoke(store, $"$Service = '{service}'; $V3 = '{_packageV3}'; $Rebuilt = '{_otherBytesV1}'\n" + script, ports);

    private static string Status(PSObject result) => result.Properties["Status"].Value.ToString()!;

    private static string Id(PSObject result) => (string)result.Properties["InstanceId"].Value;

    /// <summary>The one error a command stopped with (statement-terminating inside a script, so it lands in the error stream).</summary>
    private static ErrorRecord Stopped(PowerShellResult result) => result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);

    private static string ErrorId(PowerShellResult result) => Stopped(result).FullyQualifiedErrorId.Split(',')[0];

    private static string Message(PowerShellResult result) => Stopped(result).Exception.Message;

    [Fact]
    public void Resuming_old_runs_from_the_README_pipeline_leaves_newer_releases_alone_and_is_safe_to_repeat()
    {
        var store = _fleet.NewStorePath();
        var closed = AgentFleet.ClosedPort();
        var ports = _fleet.Agents.Select(a => a.Port).ToArray();
        Invoke(store, "shop", Register + "Invoke-Deployment -Service shop -Version 1.0.0 -PackageUrl $V1 -Force").ThrowOnError();

        // shop-02 and shop-03 are down while 2.0.0 goes out; then they come back, and 3.0.0 reaches shop-02 first.
        var failed = Invoke(store, "shop", $"""
            Register-ServiceInstance -InstanceId shop-02 -Service shop -Environment prod -HostName 127.0.0.1 -Port {closed}
            Register-ServiceInstance -InstanceId shop-03 -Service shop -Environment prod -HostName 127.0.0.1 -Port {closed} -Force
            Invoke-Deployment -Service shop -Version 2.0.0 -PackageUrl $V2 -RetryCount 0 -FailureTolerance 2 -Force -ErrorAction SilentlyContinue
            """);
        Assert.Equal(new[] { "Succeeded", "Unreachable", "Unreachable" }, failed.Output.OrderBy(Id).Select(Status));
        Invoke(store, "shop", $"""
            Register-ServiceInstance -InstanceId shop-02 -Service shop -Environment prod -HostName 127.0.0.1 -Port {ports[1]}
            Register-ServiceInstance -InstanceId shop-03 -Service shop -Environment prod -HostName 127.0.0.1 -Port {ports[2]}
            Invoke-Deployment -InstanceId shop-02 -Version 3.0.0 -PackageUrl $V3 -Force
            """).ThrowOnError();

        const string Readme = "Get-ReleaseDeployment -Status Failed, PartiallySucceeded, Interrupted | Resume-Deployment -Force";
        var resumed = Invoke(store, "shop", Readme).ThrowOnError();

        var byId = resumed.Output.ToDictionary(Id);
        Assert.Equal(new[] { "shop-02", "shop-03" }, byId.Keys.Order());
        Assert.Equal("Superseded", Status(byId["shop-02"]));
        Assert.Contains("3.0.0", (string)byId["shop-02"].Properties["Error"].Value);
        Assert.Equal("Succeeded", Status(byId["shop-03"]));
        var health = Invoke(store, "shop", "Test-ServiceInstance -Service shop").ThrowOnError().Output.ToDictionary(Id);
        Assert.Equal("3.0.0", health["shop-02"].Properties["Version"].Value);
        Assert.Equal("2.0.0", health["shop-03"].Properties["Version"].Value);
        Assert.Equal("2.0.0", health["shop-01"].Properties["Version"].Value);

        // The old run now shows its resume's outcome, so the same pipeline finds nothing to do.
        var original = Invoke(store, "shop", "Get-ReleaseDeployment | Where-Object Version -eq 2.0.0 | Where-Object ResumedFrom -eq $null").ThrowOnError().Output.Single();
        Assert.Equal("Succeeded", Status(original));
        Assert.False(string.IsNullOrEmpty((string?)original.Properties["ResumedBy"].Value));
        var runs = Invoke(store, "shop", "Get-ReleaseDeployment").ThrowOnError().Output.Count;
        var again = Invoke(store, "shop", Readme).ThrowOnError();
        Assert.Empty(again.Output);
        Assert.Equal(runs, Invoke(store, "shop", "Get-ReleaseDeployment").ThrowOnError().Output.Count);

        // Asked by id, the old run is not resumable: its latest resume owes nothing.
        var byIdAgain = Invoke(store, "shop", $"Resume-Deployment -DeploymentId {original.Properties["DeploymentId"].Value} -Force");
        Assert.Equal("DeploymentNotResumable", ErrorId(byIdAgain));
    }

    [Fact]
    public void A_run_in_progress_counts_what_finished_and_a_cancelled_run_counts_what_it_cancelled()
    {
        var store = _fleet.NewStorePath();
        using var silent = AgentFleet.SilentListener();
        var ports = _fleet.Agents.Take(2).Select(a => a.Port).Append(((System.Net.IPEndPoint)silent.LocalEndpoint).Port).Append(AgentFleet.ClosedPort()).ToArray();
        Invoke(store, "cnt", Register, ports).ThrowOnError();

        using var second = new PowerShellSession();
        using (var running = _fleet.Shell.Start(AgentFleet.Prologue +
            "Invoke-Deployment -Service cnt -Version 1.0.0 -PackageUrl $V1 -Batches @(@('cnt-01','cnt-02','cnt-03'), @('cnt-04')) -RetryCount 0 -Force",
            AgentFleet.Parameters(_fleet, store, ports)))
        {
            PSObject? run = null;
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (DateTime.UtcNow < deadline)
            {
                run = second.Invoke(AgentFleet.Prologue + "Get-ReleaseDeployment -Limit 1", AgentFleet.Parameters(_fleet, store, ports)).ThrowOnError().Output.SingleOrDefault();
                if (run is not null && (int)run.Properties["Succeeded"].Value == 2)
                {
                    break;
                }

                Thread.Sleep(100);
            }

            Assert.NotNull(run);
            Assert.Equal("Running", Status(run!));
            Assert.Equal(2, run!.Properties["Succeeded"].Value);
            running.Stop();
        }

        var cancelled = second.Invoke(AgentFleet.Prologue + "Get-ReleaseDeployment -Limit 1", AgentFleet.Parameters(_fleet, store, ports)).ThrowOnError().Output.Single();
        Assert.Equal("Cancelled", Status(cancelled));
        Assert.Equal(2, cancelled.Properties["Succeeded"].Value);
        Assert.Equal(2, cancelled.Properties["Cancelled"].Value);
    }

    [Fact]
    public void A_rollback_that_cannot_work_is_refused_per_instance_before_any_run_is_recorded()
    {
        var store = _fleet.NewStorePath();
        Invoke(store, "rb", Register + "Invoke-Deployment -InstanceId rb-01 -Version 1.0.0 -PackageUrl $V1 -Force").ThrowOnError();

        var never = Invoke(store, "rb", "Invoke-Rollback -InstanceId rb-02 -Force");
        var noSuchVersion = Invoke(store, "rb", "Invoke-Rollback -InstanceId rb-01 -Version 9.9.9 -Force");

        var neverError = Assert.Single(never.Errors);
        Assert.Equal("NoPreviousRelease,ReleaseTools.Commands.InvokeRollbackCommand", neverError.FullyQualifiedErrorId);
        Assert.Equal("rb-02", neverError.TargetObject);
        Assert.Contains("never deployed", neverError.ToString());
        var versionError = Assert.Single(noSuchVersion.Errors);
        Assert.Equal("ReleaseNotInHistory,ReleaseTools.Commands.InvokeRollbackCommand", versionError.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, versionError.CategoryInfo.Category);
        Assert.All(new[] { neverError, versionError }, e =>
        {
            Assert.DoesNotContain("Resume-Deployment", e.ToString());
            Assert.DoesNotContain("after 0 attempts", e.ToString());
        });
        Assert.Empty(never.Output);
        Assert.Empty(noSuchVersion.Output);
        Assert.Single(Invoke(store, "rb", "Get-ReleaseDeployment").ThrowOnError().Output);
    }

    [Fact]
    public void Service_environment_and_instance_filters_take_wildcards_everywhere_and_name_the_filter_that_matched_nothing()
    {
        var store = _fleet.NewStorePath();
        Invoke(store, "wild", Register).ThrowOnError();

        Assert.Equal(3, Invoke(store, "wild", "Get-ServiceInstance -Service 'wi*' -Environment 'pro*'").ThrowOnError().Output.Count);
        Assert.Equal(3, Invoke(store, "wild", "Test-ServiceInstance -Service 'wi*' -Environment 'pro*'").ThrowOnError().Output.Count);
        var deployed = Invoke(store, "wild", "Invoke-Deployment -Service 'wi*' -Environment 'PRO*' -Version 1.0.0 -PackageUrl $V1 -Force").ThrowOnError();
        Assert.Equal(3, deployed.Output.Count);
        Assert.Equal(2, Invoke(store, "wild", "Invoke-Rollback -InstanceId 'wild-0[12]' -Version 1.0.0 -Force").ThrowOnError().Output.Count);
        Assert.Equal(3, Invoke(store, "wild", "Get-InstanceVersionHistory -InstanceId 'wild-*'").ThrowOnError().Output.Count(h => (string)h.Properties["Version"].Value == "1.0.0" && h.Properties["Operation"].Value.ToString() == "Deploy"));
        Assert.Single(Invoke(store, "wild", "Get-ReleaseDeployment -Service 'w*' | Where-Object Operation -eq Deploy").ThrowOnError().Output);

        var none = Invoke(store, "wild", "Invoke-Deployment -Service 'wi*' -Environment 'stag*' -Version 1.0.0 -PackageUrl $V1 -Force");
        Assert.Equal("DeploymentNoInstances", ErrorId(none));
        Assert.Contains("-Environment 'stag*' matches no registered instance", Message(none));
        Assert.DoesNotContain("-Service 'wi*' matches", Message(none));
        var test = Invoke(store, "wild", "Test-ServiceInstance -Service 'nothing*'");
        Assert.Contains("-Service 'nothing*' matches no registered instance", Message(test));
    }

    [Fact]
    public void WhatIf_without_a_key_still_shows_the_plan_from_the_store_and_says_what_it_did_not_check()
    {
        var store = _fleet.NewStorePath();
        Invoke(store, "plan", Register + "Invoke-Deployment -Service plan -Version 1.0.0 -PackageUrl $V1 -Force").ThrowOnError();

        var whatIf = Invoke(store, "plan", """
            $PSDefaultParameterValues.Remove('*:PrivateKeyPath')
            $env:RELEASETOOLS_PRIVATE_KEY = $null
            Invoke-Deployment -Service plan -Version 2.0.0 -PackageUrl $V2 -WhatIf
            Invoke-Rollback -Service plan -WhatIf
            """).ThrowOnError();

        var plans = whatIf.Information.Where(i => i.Tags.Contains("WhatIf")).Select(i => i.MessageData.ToString()!).ToList();
        Assert.Equal(2, plans.Count);
        Assert.Contains("plan-01 1.0.0 -> 2.0.0", plans[0]);
        Assert.Contains("3 would change", plans[0]);
        Assert.All(plans, p => Assert.Contains("Not checked: The agents were not asked, because there is no signing key", p));
        Assert.Contains("has no earlier release", plans[1]);
        Assert.Single(Invoke(store, "plan", "Get-ReleaseDeployment").ThrowOnError().Output);
    }

    [Fact]
    public void Piping_a_deployments_results_to_Invoke_Rollback_undoes_that_deployment_and_leaves_unmoved_instances_alone()
    {
        var store = _fleet.NewStorePath();
        Invoke(store, "undo", Register + """
            Invoke-Deployment -Service undo -Version 1.0.0 -PackageUrl $V1 -Force
            Invoke-Deployment -Service undo -Version 2.0.0 -PackageUrl $V2 -Force
            """).ThrowOnError();
        var closed = AgentFleet.ClosedPort();
        var port3 = _fleet.Agents[2].Port;

        var undone = Invoke(store, "undo", $$"""
            Register-ServiceInstance -InstanceId undo-03 -Service undo -Environment prod -HostName 127.0.0.1 -Port {{closed}}
            $results = Get-ServiceInstance -Service undo | Invoke-Deployment -Version 3.0.0 -PackageUrl $V3 -RetryCount 0 -FailureTolerance 1 -Force -ErrorAction SilentlyContinue
            Register-ServiceInstance -InstanceId undo-03 -Service undo -Environment prod -HostName 127.0.0.1 -Port {{port3}}
            if ($results | Where-Object Status -in Failed, Unreachable) {
                $results | Invoke-Rollback -Force
            }
            """);

        Assert.Empty(undone.Errors);
        Assert.Equal(new[] { "undo-01", "undo-02" }, undone.Output.Select(Id).Order());
        Assert.All(undone.Output, r =>
        {
            Assert.Equal("Succeeded", Status(r));
            Assert.Equal(("3.0.0", "2.0.0"), ((string)r.Properties["FromVersion"].Value, (string)r.Properties["ToVersion"].Value));
        });
        var warning = Assert.Single(undone.Warnings);
        Assert.Contains("never moved undo-03", warning);
        var health = Invoke(store, "undo", "Test-ServiceInstance -Service undo").ThrowOnError().Output;
        Assert.All(health, h => Assert.Equal("2.0.0", h.Properties["Version"].Value));
    }

    [Fact]
    public void An_empty_pipeline_into_the_deployment_cmdlets_changes_nothing_and_is_not_an_error()
    {
        var store = _fleet.NewStorePath();
        var run = Invoke(store, "calm", Register + """
            $results = Get-ServiceInstance -Service calm | Invoke-Deployment -Version 1.0.0 -PackageUrl $V1 -Force
            $results | Where-Object Status -eq Failed | Invoke-Rollback -Force -Verbose
            Get-ServiceInstance -Service calm -Version 9.9.9 | Invoke-Deployment -Version 2.0.0 -PackageUrl $V2 -Force
            Get-ServiceInstance -Service nothing | Test-ServiceInstance
            $results
            """);

        Assert.Empty(run.Errors);
        Assert.Null(run.Terminating);
        Assert.Equal(3, run.Output.Count);
        Assert.All(run.Output, r => Assert.Equal("Succeeded", Status(r)));
        Assert.Contains(run.Verbose, v => v.StartsWith("Nothing was piped to Invoke-Rollback", StringComparison.Ordinal));
        var warning = Assert.Single(run.Warnings);
        Assert.StartsWith("Nothing was piped to Invoke-Deployment", warning);
        // Nothing was recorded for the two empty pipelines: one run in the store.
        Assert.Single(Invoke(store, "calm", "Get-ReleaseDeployment").ThrowOnError().Output);
        var health = Invoke(store, "calm", "Test-ServiceInstance -Service calm").ThrowOnError().Output;
        Assert.All(health, h => Assert.Equal("1.0.0", h.Properties["Version"].Value));
    }

    [Fact]
    public void With_OnFailure_Rollback_a_rolled_back_instance_writes_one_result()
    {
        var store = _fleet.NewStorePath();
        var ports = _fleet.Agents.Take(2).Select(a => a.Port).Append(AgentFleet.ClosedPort()).ToArray();
        Invoke(store, "once", Register + "Invoke-Deployment -InstanceId once-01, once-02 -Version 1.0.0 -PackageUrl $V1 -Force", ports).ThrowOnError();

        var run = Invoke(store, "once", "Get-ServiceInstance -Service once | Invoke-Deployment -Version 2.0.0 -PackageUrl $V2 -OnFailure Rollback -RetryCount 0 -Force -ErrorAction SilentlyContinue", ports);

        Assert.Equal(3, run.Output.Count);
        Assert.Equal(new[] { "once-01", "once-02", "once-03" }, run.Output.Select(Id).Order());
        Assert.Equal(new[] { "RolledBack", "RolledBack", "Unreachable" }, run.Output.OrderBy(Id).Select(Status));
        Assert.DoesNotContain(run.Output, r => Status(r) == "Succeeded");
    }

    [Fact]
    public void A_redeploy_without_ConfigPath_keeps_the_config_last_deployed_and_NoConfig_sends_an_empty_one()
    {
        var store = _fleet.NewStorePath();
        Invoke(store, "conf", Register + "Invoke-Deployment -Service conf -Version 1.0.0 -PackageUrl $V1 -ConfigPath $Config -ConfigValues @{ Level = 'info' } -Force").ThrowOnError();
        var before = Invoke(store, "conf", "Get-ServiceInstance -Service conf").ThrowOnError().Output.Select(i => (string)i.Properties["FVersion"].Value).Distinct().Single();

        var redeploy = Invoke(store, "conf", "Invoke-Deployment -Service conf -Version 1.0.0 -PackageUrl $V1 -Redeploy -Force -Verbose 4>&1").ThrowOnError();

        var results = redeploy.Output.Where(o => o.BaseObject is not VerboseRecord).ToList();
        Assert.Equal(3, results.Count);
        Assert.All(results, r =>
        {
            Assert.Equal("Succeeded", Status(r));
            Assert.Contains("kept: the config last deployed to conf/prod", (string)r.Properties["Config"].Value);
        });
        Assert.Contains(redeploy.Output.Select(o => o.BaseObject).OfType<VerboseRecord>(), v => v.Message.Contains("conf/prod: config app.conf, kept"));
        var health = Invoke(store, "conf", "Test-ServiceInstance -Service conf").ThrowOnError().Output;
        Assert.All(health, h => Assert.Equal(before, h.Properties["FVersion"].Value));

        var empty = Invoke(store, "conf", "Invoke-Deployment -Service conf -Version 1.0.0 -PackageUrl $V1 -NoConfig -Force").ThrowOnError();
        Assert.All(empty.Output, r => Assert.Equal("empty, as asked (-NoConfig)", r.Properties["Config"].Value));
        Assert.All(Invoke(store, "conf", "Test-ServiceInstance -Service conf").ThrowOnError().Output, h => Assert.NotEqual(before, h.Properties["FVersion"].Value));
    }

    [Fact]
    public void Different_bytes_under_a_released_version_are_refused_with_both_checksums_unless_allowed()
    {
        var store = _fleet.NewStorePath();
        Invoke(store, "bytes", Register + "Invoke-Deployment -Service bytes -Version 1.0.0 -PackageUrl $V1 -Force").ThrowOnError();
        var released = Convert.ToHexString(MD5.HashData(File.ReadAllBytes(_fleet.PackageV1))).ToLowerInvariant();
        var rebuilt = Convert.ToHexString(MD5.HashData(File.ReadAllBytes(_otherBytesV1))).ToLowerInvariant();

        var refused = Invoke(store, "bytes", "Invoke-Deployment -Service bytes -Version 1.0.0 -PackageUrl $Rebuilt -Redeploy -Force");

        Assert.Equal("PackageChecksumConflict", ErrorId(refused));
        Assert.Equal(ErrorCategory.InvalidData, Stopped(refused).CategoryInfo.Category);
        Assert.Contains(released, Message(refused));
        Assert.Contains(rebuilt, Message(refused));
        Assert.Empty(refused.Output);
        Assert.Single(Invoke(store, "bytes", "Get-ReleaseDeployment").ThrowOnError().Output);

        var allowed = Invoke(store, "bytes", "Invoke-Deployment -Service bytes -Version 1.0.0 -PackageUrl $Rebuilt -Redeploy -AllowChecksumChange -Force").ThrowOnError();
        Assert.All(allowed.Output, r => Assert.Equal("Succeeded", Status(r)));
        Assert.Contains(allowed.Warnings, w => w.Contains(released) && w.Contains(rebuilt));
        Assert.Equal(rebuilt, Invoke(store, "bytes", "(Get-ReleaseDeployment -Limit 1).PackageMd5").ThrowOnError().Output.Single().BaseObject);
    }

    [Fact]
    public void The_lease_conflict_names_Unlock_ServiceInstance_which_releases_the_lease_of_the_holding_run()
    {
        var store = _fleet.NewStorePath();
        using var silent = AgentFleet.SilentListener();
        var ports = new[] { ((System.Net.IPEndPoint)silent.LocalEndpoint).Port };
        Invoke(store, "lock", Register, ports).ThrowOnError();
        using var second = new PowerShellSession();
        // The holder retries its ping to the silent agent (30 s per attempt) for minutes, so it still holds the lease when
        // a loaded machine is slow to start the second run; it is stopped at the end.
        using var holder = _fleet.Shell.Start(AgentFleet.Prologue + "Invoke-Deployment -Service lock -Version 1.0.0 -PackageUrl $V1 -RetryCount 10 -Force",
            AgentFleet.Parameters(_fleet, store, ports));
        PowerShellResult SecondInvoke(string script) => second.Invoke(AgentFleet.Prologue + script, AgentFleet.Parameters(_fleet, store, ports));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && SecondInvoke("Get-ReleaseDeployment -Status Running").ThrowOnError().Output.Count == 0)
        {
            Thread.Sleep(100);
        }

        var conflict = SecondInvoke("Invoke-Deployment -Service lock -Version 1.0.0 -PackageUrl $V1 -Force");

        Assert.Equal("InstanceLeaseConflict", ErrorId(conflict));
        Assert.Contains("Unlock-ServiceInstance -InstanceId lock-01 -Reason", Message(conflict));
        Assert.NotNull(SecondInvoke("Get-Command Unlock-ServiceInstance").ThrowOnError().Output.Single());
        var command = (CmdletInfo)SecondInvoke("Get-Command Unlock-ServiceInstance").Output.Single().BaseObject;
        var attribute = (CmdletAttribute)command.ImplementingType.GetCustomAttributes(typeof(CmdletAttribute), false).Single();
        Assert.True(attribute.SupportsShouldProcess);
        Assert.Equal(ConfirmImpact.High, attribute.ConfirmImpact);

        var whatIf = SecondInvoke("Unlock-ServiceInstance -InstanceId 'lock-*' -Reason 'holder is stuck' -WhatIf").ThrowOnError();
        Assert.Empty(whatIf.Output);
        var released = SecondInvoke("Unlock-ServiceInstance -InstanceId 'lock-*' -Reason 'holder is stuck' -Force -PassThru").ThrowOnError().Output.Single();
        var holdingRun = SecondInvoke("(Get-ReleaseDeployment -Limit 1).DeploymentId").ThrowOnError().Output.Single().BaseObject;
        Assert.Equal(("lock-01", holdingRun), ((string)released.Properties["InstanceId"].Value, released.Properties["DeploymentId"].Value));
        Assert.Empty(SecondInvoke("Unlock-ServiceInstance -InstanceId lock-01 -Reason again -Force -PassThru").ThrowOnError().Output);
        holder.Stop();
    }

    public void Dispose() => _directory.Dispose();
}
