using Npgsql;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Postgres;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>
/// The PostgreSQL store's queries on a store large enough for the planner to matter (analysed after loading): each
/// one the module issues against the large tables must use an index, never a sequential scan. Plans, not timings,
/// which would be flaky on a shared machine; the store benchmark measures the timings.
/// </summary>
public sealed class PostgresQueryPlanTests : IClassFixture<PostgresQueryPlanTests.LargeStore>
{
    private const int Instances = 20_000;
    private const int HistoryRows = 100_000;
    private const int Services = 40;
    private readonly LargeStore _large;

    public PostgresQueryPlanTests(LargeStore large) => _large = large;

    public sealed class LargeStore : IDisposable
    {
        private PostgresStoreScope? _scope;
        private Exception? _failure;

        /// <summary>Built on first use inside a test, so a missing server skips (or fails) the tests themselves.</summary>
        internal PostgresStoreScope Scope
        {
            get
            {
                if (_failure != null)
                {
                    throw _failure;
                }

                if (_scope == null)
                {
                    try
                    {
                        _scope = Build();
                    }
                    catch (Exception ex)
                    {
                        _failure = ex;
                        throw;
                    }
                }

                return _scope;
            }
        }

        private static PostgresStoreScope Build()
        {
            var scope = new PostgresStoreScope();
            var store = scope.Store;
            store.RegisterInstancesAsync(Enumerable.Range(0, Instances)
                .Select(i => StoreSamples.Instance($"i-{i:D6}", $"svc-{i % Services:D2}", i % 3 == 0 ? "prod" : i % 3 == 1 ? "test" : "dev"))
                .ToList(), CancellationToken.None).GetAwaiter().GetResult();
            var recorded = scope.Clock.Now.AddDays(-100);
            store.ImportHistoryAsync(Enumerable.Range(0, HistoryRows).Select(n => new VersionHistoryRecord
            {
                InstanceId = $"i-{n % Instances:D6}",
                Service = $"svc-{n % Instances % Services:D2}",
                Environment = "prod",
                Version = $"1.{n / Instances}.0",
                FVersion = $"1.{n / Instances}.0+f",
                DeploymentId = $"d-gen{n / Instances}",
                RecordedAt = recorded.AddMinutes(n),
            }).ToList(), CancellationToken.None).GetAwaiter().GetResult();
            // A large rollout in flight: half the fleet leased by one run.
            store.TryClaimInstancesAsync(new LeaseOwner { DeploymentId = "d-rollout", HostName = "build-1", ProcessId = 4242 },
                Enumerable.Range(0, Instances / 2).Select(i => $"i-{i * 2:D6}").ToList(), TimeSpan.FromMinutes(5), CancellationToken.None).GetAwaiter().GetResult();
            using var connection = store.OpenConnection();
            // The registry's current versions, as the last generation of releases left them; then fresh planner statistics.
            // Years of runs: 50,000 finished ones spread over the services, written directly since only their number matters here.
            using var update = new NpgsqlCommand(
                "UPDATE instances SET version = '1.4.0', fversion = '1.4.0+f', status = 'active' WHERE right(instance_id, 1) IN ('0', '2', '4'); " +
                "INSERT INTO deployments (deployment_id, operation, service, target_version, initiated_by, initiated_from, batch_count, status, created_at) " +
                $"SELECT 'd-old' || lpad(n::text, 6, '0'), 'deploy', 'svc-' || lpad((n % {Services})::text, 2, '0'), '1.0.0', 'ops', 'build', 1, 'succeeded', 1700000000000 + n::bigint * 60000 " +
                "FROM generate_series(1, 50000) AS n; ANALYZE;", connection);
            update.ExecuteNonQuery();
            return scope;
        }

        public void Dispose() => _scope?.Dispose();
    }

    public static TheoryData<string> Queries => new()
    {
        "instance by id", "instances of a service", "instances of a service at a version", "instances of an environment", "instances by several ids",
        "history of an instance", "history of a service and environment", "history of a service at a version", "leases of instances",
        "newest runs", "newest runs of a service", "running runs",
    };

    [SkippableTheory]
    [MemberData(nameof(Queries))]
    public void Every_query_on_the_large_tables_uses_an_index(string query)
    {
        var store = _large.Scope.Store;
        using var connection = store.OpenConnection();
        using var command = Build(connection, query);
        command.CommandText = "EXPLAIN " + command.CommandText;

        var plan = string.Join("\n", Read(command));

        Assert.DoesNotContain("Seq Scan on instances", plan);
        Assert.DoesNotContain("Seq Scan on version_history", plan);
        Assert.DoesNotContain("Seq Scan on instance_leases", plan);
        Assert.DoesNotContain("Seq Scan on deployments", plan);
        if (query.StartsWith("newest runs", StringComparison.Ordinal))
        {
            // The newest runs come out of an index in listing order, not from sorting every run.
            Assert.DoesNotContain("Sort", plan);
        }
        Assert.Contains("Index", plan);
    }

    [SkippableFact]
    public async Task The_large_store_answers_with_the_right_slices()
    {
        var store = _large.Scope.Store;

        Assert.Equal(Instances / Services, (await store.FindInstancesAsync(new InstanceQuery { Services = new[] { "SVC-07" } }, CancellationToken.None)).Count);
        Assert.Equal(new[] { "1.4.0", "1.3.0" }, (await store.GetHistoryAsync("i-000123", 2, CancellationToken.None)).Select(h => h.Version));
        Assert.Equal(5, (await store.FindHistoryAsync(new HistoryQuery { Service = "svc-03", Environment = "PROD", Limit = 5 }, CancellationToken.None)).Count);
    }

    private static NpgsqlCommand Build(NpgsqlConnection connection, string query) => query switch
    {
        "instance by id" => PostgresReleaseStore.BuildInstanceQuery(connection, new InstanceQuery { InstanceIds = new[] { "i-000123" } }),
        "instances of a service" => PostgresReleaseStore.BuildInstanceQuery(connection, new InstanceQuery { Services = new[] { "svc-07" } }),
        "instances of a service at a version" => PostgresReleaseStore.BuildInstanceQuery(connection, new InstanceQuery { Services = new[] { "svc-07" }, Version = "1.4.0" }),
        "instances of an environment" => PostgresReleaseStore.BuildInstanceQuery(connection, new InstanceQuery { Environments = new[] { "prod" }, Services = new[] { "svc-01", "svc-02" } }),
        "instances by several ids" => PostgresReleaseStore.BuildInstanceQuery(connection, new InstanceQuery { InstanceIds = new[] { "i-000001", "i-000002", "i-019999" } }),
        "history of an instance" => PostgresReleaseStore.BuildHistoryQuery(connection, "i-000123", 20),
        "history of a service and environment" => PostgresReleaseStore.BuildServiceHistoryQuery(connection, new HistoryQuery { Service = "svc-03", Environment = "prod", Limit = 1 }),
        "history of a service at a version" => PostgresReleaseStore.BuildServiceHistoryQuery(connection, new HistoryQuery { Service = "svc-03", Version = "1.2.0", Limit = 1 }),
        "leases of instances" => new NpgsqlCommand("SELECT * FROM instance_leases WHERE instance_id = ANY(@ids) ORDER BY instance_id", connection)
        {
            Parameters = { new NpgsqlParameter("ids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text) { Value = new[] { "i-000001", "i-000002" } } },
        },
        "newest runs" => PostgresReleaseStore.BuildDeploymentQuery(connection, new DeploymentQuery { Limit = 20 }),
        "newest runs of a service" => PostgresReleaseStore.BuildDeploymentQuery(connection, new DeploymentQuery { Services = new[] { "svc-07" }, Limit = 20 }),
        "running runs" => PostgresReleaseStore.BuildDeploymentQuery(connection, new DeploymentQuery { Statuses = new[] { DeploymentStatus.Running }, Limit = 0 }),
        _ => throw new ArgumentOutOfRangeException(nameof(query)),
    };

    private static IEnumerable<string> Read(NpgsqlCommand command)
    {
        using var reader = command.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read())
        {
            lines.Add(reader.GetString(0));
        }

        return lines;
    }
}
