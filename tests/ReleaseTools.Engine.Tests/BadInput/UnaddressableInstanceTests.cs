using Microsoft.Data.Sqlite;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Tests.Deployment;
using Xunit;

namespace ReleaseTools.Engine.Tests.BadInput;

/// <summary>
/// A registry written before host names were validated can still hold "127.0.0.1:7070". Such an instance fails on
/// its own, with its id and the bad host in the message, and the run goes on with the others and counts right.
/// </summary>
public sealed class UnaddressableInstanceTests
{
    [Fact]
    public async Task An_instance_whose_host_no_URL_can_carry_fails_alone_and_the_run_counts_it()
    {
        await using var world = await DeploymentWorld.CreateAsync(3);
        var broken = world.Instances[1];
        using (var connection = new SqliteConnection($"Data Source={world.Temp.Combine("store", "releasetools.db")}"))
        {
            connection.Open();
            using var update = connection.CreateCommand();
            update.CommandText = "UPDATE instances SET host = '127.0.0.1:7070' WHERE instance_id = $id";
            update.Parameters.AddWithValue("$id", broken.InstanceId);
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        var summary = await world.DeployAsync("1.0.0", world.Settings(throttle: 1));

        var byId = summary.Results.ToDictionary(r => r.InstanceId);
        Assert.Equal(TargetStatus.Unreachable, byId[broken.InstanceId].Status);
        Assert.Equal(EngineErrorIds.InstanceUnreachable, byId[broken.InstanceId].ErrorId);
        Assert.Equal("ping", byId[broken.InstanceId].FailedStep);
        Assert.Equal(1, byId[broken.InstanceId].Attempts);
        Assert.Contains("'127.0.0.1:7070' is not a host name", byId[broken.InstanceId].Error);
        Assert.Equal(0, broken.Probe.Total);
        Assert.All(new[] { world.Instances[0], world.Instances[2] }, i => Assert.Equal(TargetStatus.Succeeded, byId[i.InstanceId].Status));
        Assert.Equal(2, summary.Succeeded);
        Assert.Equal(1, summary.Unreachable);
        Assert.Equal(0, summary.Failed);

        var record = await world.Store.GetDeploymentAsync(summary.DeploymentId, CancellationToken.None);
        Assert.Equal(2, record!.SucceededTargets);
        var targets = (await world.Store.GetTargetsAsync(summary.DeploymentId, CancellationToken.None)).ToDictionary(t => t.InstanceId);
        Assert.Equal(TargetStatus.Unreachable, targets[broken.InstanceId].Status);
        Assert.Contains("Register-ServiceInstance", targets[broken.InstanceId].Error);
        Assert.Null((await world.Store.GetInstanceAsync(broken.InstanceId, CancellationToken.None))!.Version);
        Assert.Empty(await world.Store.GetLeasesAsync(world.Ids, CancellationToken.None));
    }
}
