using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>The instanceregistry part of the store contract, run against every store (see the sealed classes at the end).</summary>
public abstract class InstanceRegistryContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private IStoreScope? _scope;

    /// <summary>Created on first use, inside the test, so a missing PostgreSQL server skips (or fails) the test itself.</summary>
    private IStoreScope Scope => _scope ??= CreateScope();

    private IReleaseStore Store => Scope.Store;

    protected abstract IStoreScope CreateScope();

    public void Dispose() => _scope?.Dispose();

    [SkippableFact]
    public async Task A_registered_instance_is_returned_by_id_with_its_address_tags_and_registered_status()
    {
        var registered = await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1", host: "10.0.0.5", port: 9443, tags: new[] { "blue", "canary" }), None);

        var found = await Store.GetInstanceAsync("orders-1", None);

        Assert.Equal(registered with { Tags = found!.Tags }, found);
        Assert.Equal(registered.Tags, found.Tags);
        Assert.Equal("orders", found!.Service);
        Assert.Equal("prod", found.Environment);
        Assert.Equal("10.0.0.5", found.Host);
        Assert.Equal(9443, found.Port);
        Assert.Equal(new[] { "blue", "canary" }, found.Tags);
        Assert.Null(found.Version);
        Assert.Equal(InstanceStatus.Registered, found.Status);
        Assert.Equal(Scope.Clock.Now, found.UpdatedAt);
        Assert.Null(await Store.GetInstanceAsync("orders-404", None));
    }

    [SkippableFact]
    public async Task An_instance_keeps_its_agent_instance_https_flag_and_pinned_certificate_one_by_one_and_in_bulk_and_a_new_registration_replaces_them()
    {
        const string pin = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        await Store.RegisterInstanceAsync(StoreSamples.Instance("web-a", "web", host: "10.0.0.5", port: 7070) with { AgentInstance = "a", UseHttps = true, AgentCertificate = pin }, None);
        await Store.RegisterInstancesAsync(new[]
        {
            StoreSamples.Instance("web-b", "web", host: "10.0.0.5", port: 7070) with { AgentInstance = "b", UseHttps = true },
            StoreSamples.Instance("web-c", "web", host: "10.0.0.6", port: 7070),
        }, None);

        var found = (await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { "web" } }, None)).ToDictionary(i => i.InstanceId);
        Assert.Equal(("a", true, pin), (found["web-a"].AgentInstance, found["web-a"].UseHttps, found["web-a"].AgentCertificate));
        Assert.Equal(("b", true, (string?)null), (found["web-b"].AgentInstance, found["web-b"].UseHttps, found["web-b"].AgentCertificate));
        Assert.Equal(((string?)null, false, (string?)null), (found["web-c"].AgentInstance, found["web-c"].UseHttps, found["web-c"].AgentCertificate));

        // A registration says the whole address: registered again without them, the instance is the agent's default instance over HTTP.
        await Store.RegisterInstanceAsync(StoreSamples.Instance("web-a", "web", host: "10.0.0.5", port: 7070), None);
        await Store.RegisterInstancesAsync(new[] { StoreSamples.Instance("web-b", "web", host: "10.0.0.5", port: 7070) with { AgentInstance = "b2" } }, None);
        var again = (await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { "web" } }, None)).ToDictionary(i => i.InstanceId);
        Assert.Equal(((string?)null, false, (string?)null), (again["web-a"].AgentInstance, again["web-a"].UseHttps, again["web-a"].AgentCertificate));
        Assert.Equal(("b2", false), (again["web-b"].AgentInstance, again["web-b"].UseHttps));
    }

    [SkippableFact]
    public async Task Instances_are_found_by_service_by_environment_and_by_several_ids()
    {
        await Store.RegisterInstancesAsync(new[]
        {
            StoreSamples.Instance("orders-1", "orders", "prod"),
            StoreSamples.Instance("orders-2", "orders", "test"),
            StoreSamples.Instance("billing-1", "billing", "prod"),
            StoreSamples.Instance("search-1", "search", "test"),
        }, None);

        Assert.Equal(new[] { "orders-1", "orders-2" }, Ids(await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { "orders" } }, None)));
        Assert.Equal(new[] { "billing-1", "orders-1" }, Ids(await Store.FindInstancesAsync(new InstanceQuery { Environments = new[] { "prod" } }, None)));
        Assert.Equal(new[] { "billing-1", "search-1" }, Ids(await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { "billing", "search" } }, None)));
        Assert.Equal(new[] { "orders-2" }, Ids(await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { "orders" }, Environments = new[] { "test" } }, None)));
        Assert.Equal(new[] { "billing-1", "search-1" }, Ids(await Store.FindInstancesAsync(new InstanceQuery { InstanceIds = new[] { "search-1", "billing-1", "unknown" } }, None)));
        Assert.Equal(4, (await Store.FindInstancesAsync(new InstanceQuery(), None)).Count);
    }

    [SkippableFact]
    public async Task Service_environment_and_id_lookups_ignore_case_like_powershell()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("Orders-1", "Orders", "Prod"), None);

        Assert.Single(await Store.FindInstancesAsync(new InstanceQuery { Services = new[] { "ORDERS" }, Environments = new[] { "prod" } }, None));
        Assert.Equal("Orders-1", (await Store.GetInstanceAsync("orders-1", None))!.InstanceId);
    }

    [SkippableFact]
    public async Task Re_registering_updates_the_address_and_keeps_the_released_version()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1", host: "old-host", port: 80), None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await Store.RecordReleaseAsync(StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0"), None);
        Scope.Clock.Advance(TimeSpan.FromMinutes(1));

        var count = await Store.RegisterInstancesAsync(new[] { StoreSamples.Instance("orders-1", environment: "staging", host: "new-host", port: 81, tags: "moved") }, None);

        var instance = (await Store.GetInstanceAsync("orders-1", None))!;
        Assert.Equal(1, count);
        Assert.Equal(("staging", "new-host", 81), (instance.Environment, instance.Host, instance.Port));
        Assert.Equal(new[] { "moved" }, instance.Tags);
        Assert.Equal("2.0.0", instance.Version);
        Assert.Equal(InstanceStatus.Active, instance.Status);
        Assert.Equal(Scope.Clock.Now, instance.UpdatedAt);
        Assert.Single(await Store.GetHistoryAsync("orders-1", 10, None));
    }

    [SkippableFact]
    public async Task Unregistering_removes_the_instance_but_keeps_its_history()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var deployment = await Store.CreateDeploymentAsync(StoreSamples.Deployment(), new[] { StoreSamples.Target("orders-1") }, None);
        await Store.RecordReleaseAsync(StoreSamples.Release(deployment.DeploymentId, "orders-1", "2.0.0"), None);

        Assert.True(await Store.UnregisterInstanceAsync("orders-1", None));
        Assert.False(await Store.UnregisterInstanceAsync("orders-1", None));

        Assert.Null(await Store.GetInstanceAsync("orders-1", None));
        Assert.Equal("2.0.0", Assert.Single(await Store.GetHistoryAsync("orders-1", 10, None)).Version);
        Assert.Single(await Store.GetTargetsAsync(deployment.DeploymentId, None));
    }

    [SkippableFact]
    public async Task Observed_status_is_recorded_and_an_unknown_instance_is_reported()
    {
        await Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);

        await Store.SetInstanceStatusAsync("orders-1", InstanceStatus.Unreachable, None);
        var error = await Assert.ThrowsAsync<StoreException>(() => Store.SetInstanceStatusAsync("orders-404", InstanceStatus.Failed, None));

        Assert.Equal(InstanceStatus.Unreachable, (await Store.GetInstanceAsync("orders-1", None))!.Status);
        Assert.Equal(StoreErrorIds.InstanceNotFound, error.ErrorId);
        Assert.Contains("orders-404", error.Message);
    }

    [SkippableFact]
    public async Task Service_names_for_completion_are_distinct_and_sorted()
    {
        await Store.RegisterInstancesAsync(new[]
        {
            StoreSamples.Instance("s-1", "search"), StoreSamples.Instance("o-1", "orders"), StoreSamples.Instance("o-2", "orders"),
            StoreSamples.Instance("b-1", "billing"), StoreSamples.Instance("s-2", "search"),
        }, None);

        Assert.Equal(new[] { "billing", "orders", "search" }, await Store.GetServiceNamesAsync(None));
    }

    [SkippableFact]
    public async Task A_registration_without_id_or_service_is_refused_before_anything_is_written()
    {
        var batch = new[] { StoreSamples.Instance("orders-1"), StoreSamples.Instance("") };

        await Assert.ThrowsAsync<ArgumentException>(() => Store.RegisterInstancesAsync(batch, None));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.RegisterInstanceAsync(StoreSamples.Instance("x", service: " "), None));

        Assert.Empty(await Store.FindInstancesAsync(new InstanceQuery(), None));
    }

    private static string[] Ids(IReadOnlyList<InstanceRecord> instances) => instances.Select(i => i.InstanceId).Order(StringComparer.Ordinal).ToArray();
}

public sealed class SqliteInstanceRegistryTests : InstanceRegistryContract
{
    protected override IStoreScope CreateScope() => new StoreScope();
}

public sealed class PostgresInstanceRegistryTests : InstanceRegistryContract
{
    protected override IStoreScope CreateScope() => new PostgresStoreScope();
}
