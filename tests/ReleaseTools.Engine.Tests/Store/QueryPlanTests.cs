using Microsoft.Data.Sqlite;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>
/// A store large enough for SQLite's planner to matter, built through the public bulk paths. The tests check the plan
/// (an index search, never a table scan) rather than timings, which would be flaky on a shared machine.
/// </summary>
public sealed class QueryPlanTests : IClassFixture<QueryPlanTests.LargeStore>
{
    private const int Instances = 20_000;
    private const int HistoryRows = 100_000;
    private const int Services = 40;
    private readonly LargeStore _large;

    public QueryPlanTests(LargeStore large) => _large = large;

    public sealed class LargeStore : IDisposable
    {
        public LargeStore()
        {
            Scope = new StoreScope();
            var store = Scope.Store;
            var registrations = Enumerable.Range(0, Instances)
                .Select(i => StoreSamples.Instance($"i-{i:D6}", $"svc-{i % Services:D2}", i % 3 == 0 ? "prod" : i % 3 == 1 ? "test" : "dev"))
                .ToList();
            store.RegisterInstancesAsync(registrations, CancellationToken.None).GetAwaiter().GetResult();
            var recorded = Scope.Clock.Now.AddDays(-100);
            var history = Enumerable.Range(0, HistoryRows).Select(n =>
            {
                var instance = n % Instances;
                var generation = n / Instances;
                return new VersionHistoryRecord
                {
                    InstanceId = $"i-{instance:D6}",
                    Service = $"svc-{instance % Services:D2}",
                    Environment = "prod",
                    Version = $"1.{generation}.0",
                    FVersion = $"1.{generation}.0+f",
                    PreviousVersion = generation == 0 ? null : $"1.{generation - 1}.0",
                    DeploymentId = $"d-gen{generation}",
                    RecordedAt = recorded.AddMinutes(n),
                };
            }).ToList();
            store.ImportHistoryAsync(history, CancellationToken.None).GetAwaiter().GetResult();
            // The registry's current versions, as the last generation of releases left them.
            Scope.Execute("UPDATE instances SET version = '1.4.0', fversion = '1.4.0+f', status = 'active' WHERE rowid % 2 = 0");
            // Years of runs: 50,000 finished ones spread over the services, written directly since only their number matters here.
            Scope.Execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) " +
                "INSERT INTO deployments (deployment_id, operation, service, target_version, initiated_by, initiated_from, batch_count, status, created_at) " +
                $"SELECT printf('d-old%06d', i), 'deploy', printf('svc-%02d', i % {Services}), '1.0.0', 'ops', 'build', 1, 'succeeded', 1700000000000 + i * 60000 FROM n");
        }

        internal StoreScope Scope { get; }

        public void Dispose() => Scope.Dispose();
    }

    [Fact]
    public async Task Bulk_paths_wrote_every_row_and_queries_return_the_right_slices()
    {
        var store = _large.Scope.Store;

        var service = await store.FindInstancesAsync(new InstanceQuery { Services = new[] { "svc-07" } }, CancellationToken.None);
        var history = await store.GetHistoryAsync("i-000123", 3, CancellationToken.None);

        Assert.Equal((long)Instances, _large.Scope.Scalar("SELECT count(*) FROM instances"));
        Assert.Equal((long)HistoryRows, _large.Scope.Scalar("SELECT count(*) FROM version_history"));
        Assert.Equal(Instances / Services, service.Count);
        Assert.All(service, i => Assert.Equal("svc-07", i.Service));
        Assert.Equal(new[] { "1.4.0", "1.3.0", "1.2.0" }, history.Select(h => h.Version));
        Assert.Equal(Services, (await store.GetServiceNamesAsync(CancellationToken.None)).Count);
        Assert.Equal(new[] { "1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0" }, await store.GetVersionsAsync("svc-03", CancellationToken.None));
    }

    [Fact]
    public void Instances_of_a_service_are_found_through_an_index()
    {
        AssertIndexed(InstancePlan(new InstanceQuery { Services = new[] { "svc-07" } }), "instances", "ix_instances_service_version");
        AssertIndexed(InstancePlan(new InstanceQuery { Services = new[] { "svc-07", "svc-08" } }), "instances", "ix_instances_service_version");
    }

    [Fact]
    public void Instances_of_a_service_on_a_version_are_found_through_the_service_version_index()
    {
        var plan = InstancePlan(new InstanceQuery { Services = new[] { "svc-07" }, Version = "1.4.0" });

        AssertIndexed(plan, "instances", "ix_instances_service_version");
        Assert.Contains(plan, line => line.Contains("version=?"));
    }

    [Fact]
    public void Instances_of_a_service_in_one_environment_are_found_through_the_service_index()
    {
        AssertIndexed(InstancePlan(new InstanceQuery { Services = new[] { "svc-07" }, Environments = new[] { "prod" } }), "instances", "ix_instances_service_version");
    }

    [Fact]
    public void Instances_of_an_environment_are_found_through_an_index()
    {
        AssertIndexed(InstancePlan(new InstanceQuery { Environments = new[] { "prod" } }), "instances", "ix_instances_environment");
    }

    [Fact]
    public void One_instances_history_is_read_through_its_index_newest_first_without_sorting()
    {
        using var connection = _large.Scope.Raw();
        using var command = SqliteReleaseStore.BuildHistoryQuery(connection, "i-000123", 20);

        var plan = Explain(command);

        AssertIndexed(plan, "version_history", "ix_history_instance");
        Assert.DoesNotContain(plan, line => line.Contains("TEMP B-TREE"));
    }

    [Fact]
    public void Service_names_are_found_by_seeking_the_index_not_scanning_the_registry()
    {
        using var connection = _large.Scope.Raw();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT min(service) FROM instances WHERE service > 'svc-03'";

        AssertIndexed(Explain(command), "instances", "ix_instances_service_version");
    }

    [Fact]
    public void The_newest_runs_are_read_from_an_index_in_listing_order()
    {
        var plan = DeploymentPlan(new DeploymentQuery { Limit = 20 });

        Assert.Contains(plan, line => line.Contains("SCAN deployments USING INDEX ix_deployments_created"));
        Assert.DoesNotContain(plan, line => line.Contains("TEMP B-TREE"));
    }

    [Fact]
    public void The_newest_runs_of_a_service_are_read_from_the_service_index_in_listing_order()
    {
        var plan = DeploymentPlan(new DeploymentQuery { Services = new[] { "svc-07" }, Limit = 20 });

        AssertIndexed(plan, "deployments", "ix_deployments_service_created");
        Assert.DoesNotContain(plan, line => line.Contains("TEMP B-TREE"));
    }

    [Fact]
    public void Running_runs_are_found_through_the_status_index()
    {
        AssertIndexed(DeploymentPlan(new DeploymentQuery { Statuses = new[] { DeploymentStatus.Running }, Limit = 0 }), "deployments", "ix_deployments_status_created");
    }

    private IReadOnlyList<string> DeploymentPlan(DeploymentQuery query)
    {
        using var connection = _large.Scope.Raw();
        using var command = SqliteReleaseStore.BuildDeploymentQuery(connection, query);
        return Explain(command);
    }

    private IReadOnlyList<string> InstancePlan(InstanceQuery query)
    {
        using var connection = _large.Scope.Raw();
        using var command = SqliteReleaseStore.BuildInstanceQuery(connection, query);
        return Explain(command);
    }

    private static IReadOnlyList<string> Explain(SqliteCommand command)
    {
        command.CommandText = "EXPLAIN QUERY PLAN " + command.CommandText;
        var lines = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            lines.Add(reader.GetString(3));
        }

        return lines;
    }

    private static void AssertIndexed(IReadOnlyList<string> plan, string table, string index)
    {
        var text = string.Join(" | ", plan);
        Assert.True(plan.Any(line => line.StartsWith($"SEARCH {table} USING ", StringComparison.Ordinal) && line.Contains($"INDEX {index}")),
            $"expected a search of {table} using {index}, got: {text}");
        Assert.False(plan.Any(line => line.StartsWith($"SCAN {table}", StringComparison.Ordinal)), $"expected no scan of {table}, got: {text}");
    }
}
