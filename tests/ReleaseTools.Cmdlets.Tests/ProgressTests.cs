using System.Collections;
using System.Management.Automation;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>What the progress stream shows while runs and health checks work, against real agents.</summary>
public sealed class ProgressTests : IClassFixture<AgentFleet>
{
    private const string RegisterFleet = DeploymentPipelineTests.RegisterFleet;

    private readonly AgentFleet _fleet;

    public ProgressTests(AgentFleet fleet) => _fleet = fleet;

    [Fact]
    public void A_deployment_shows_instance_and_step_bytes_sent_per_instance_and_completes_every_bar_it_opened()
    {
        var store = _fleet.NewStorePath();
        var run = _fleet.Invoke(store, "$Service = 'bars'\n" + RegisterFleet + """
            Invoke-Deployment -Service bars -Version 2.0.0 -PackageUrl $V2 -BatchSize 2 -Force
            """).ThrowOnError();
        var progress = run.Progress;
        var size = new FileInfo(_fleet.PackageV2).Length;

        // The run's bar: batch and instances done as status, the latest instance and step as the current operation.
        var runBar = progress.Where(p => p.ActivityId == 1 && p.RecordType == ProgressRecordType.Processing).ToList();
        Assert.Contains(runBar, p => p.StatusDescription == "Batch 2 of 2: 2 of 3 instance(s) done");
        Assert.Contains(runBar, p => p.CurrentOperation == "bars-01: ping");
        Assert.Contains(runBar, p => p.CurrentOperation == "bars-03: package");
        Assert.Contains(runBar, p => p.CurrentOperation == "bars-02: verify");

        // One child bar per instance for its upload, under the run's bar, ending at the package's size.
        foreach (var instance in new[] { "bars-01", "bars-02", "bars-03" })
        {
            var upload = progress.Where(p => p.Activity == $"Sending the package to {instance}").ToList();
            Assert.NotEmpty(upload);
            Assert.All(upload, p => Assert.Equal(1, p.ParentActivityId));
            Assert.Single(upload.Select(p => p.ActivityId).Distinct());
            Assert.Contains(upload, p => p.RecordType == ProgressRecordType.Processing && p.PercentComplete == 100 && p.StatusDescription == $"{size / 1024.0:0.0} KiB of {size / 1024.0:0.0} KiB sent");
            Assert.Equal(ProgressRecordType.Completed, upload[^1].RecordType);
        }

        // The package download's bar hangs under the run's and is completed too.
        var package = progress.Where(p => p.ActivityId == 2).ToList();
        Assert.NotEmpty(package);
        Assert.All(package, p => Assert.Equal(1, p.ParentActivityId));
        Assert.Equal(ProgressRecordType.Completed, package[^1].RecordType);

        // Every bar opened is completed, and the run's bar is completed last.
        foreach (var opened in progress.Select(p => p.ActivityId).Distinct())
        {
            Assert.Equal(ProgressRecordType.Completed, progress.Last(p => p.ActivityId == opened).RecordType);
        }

        Assert.Equal(1, progress[^1].ActivityId);
        Assert.Equal(ProgressRecordType.Completed, progress[^1].RecordType);
    }

    [Fact]
    public void Test_ServiceInstance_writes_each_result_as_its_agent_answers_while_another_still_hangs()
    {
        var store = _fleet.NewStorePath();
        using var silent = AgentFleet.SilentListener();
        var ports = new[] { ((System.Net.IPEndPoint)silent.LocalEndpoint).Port, _fleet.Agents[0].Port, _fleet.Agents[1].Port };
        _fleet.Invoke(store, "$Service = 'stream'\n" + RegisterFleet, ports).ThrowOnError();

        var answered = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var parameters = AgentFleet.Parameters(_fleet, store, null);
        parameters["Answered"] = answered;

        // Stopped once two results arrived (or after a minute): the third agent never answers, so the pipeline is still
        // running when they do only if each result is written as its agent answers.
        _fleet.Shell.InvokeThenStop(
            AgentFleet.Prologue.Replace("$Ports)", "$Ports, $Answered)") + "Test-ServiceInstance -Service stream | ForEach-Object { $Answered.Enqueue($_.InstanceId) }",
            parameters,
            TimeSpan.FromSeconds(60),
            stopWhen: () => answered.Count >= 2);

        Assert.Equal(new[] { "stream-02", "stream-03" }, answered.Order().ToArray());
    }

    [Fact]
    public void Test_ServiceInstance_counts_the_instances_checked_names_the_one_asked_and_completes_its_bar()
    {
        var store = _fleet.NewStorePath();
        var run = _fleet.Invoke(store, "$Service = 'count'\n" + RegisterFleet + "Test-ServiceInstance -Service count -ThrottleLimit 1").ThrowOnError();

        Assert.Equal(3, run.Output.Count);
        Assert.Equal(new[] { "0 of 3 checked", "1 of 3 checked", "2 of 3 checked", "3 of 3 checked" },
            run.Progress.Where(p => p.RecordType == ProgressRecordType.Processing).Select(p => p.StatusDescription).Distinct());
        Assert.Contains(run.Progress, p => p.CurrentOperation == "count-02: asking its agent");
        Assert.Equal(ProgressRecordType.Completed, run.Progress[^1].RecordType);
        Assert.Equal("Testing 3 instance(s)", run.Progress[^1].Activity);
    }
}
