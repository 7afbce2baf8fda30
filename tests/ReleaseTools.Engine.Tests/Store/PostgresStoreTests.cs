using Npgsql;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Postgres;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>What only the server store has: schema creation and migration on a shared server, addresses and passwords, the server's clock.</summary>
public sealed class PostgresStoreTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private PostgresStoreScope? _scope;

    private PostgresStoreScope Scope => _scope ??= new PostgresStoreScope();

    public void Dispose() => _scope?.Dispose();

    [SkippableFact]
    public async Task Several_openers_of_a_new_server_at_once_create_the_schema_once_and_all_succeed()
    {
        var address = Scope.Address;
        using var start = new ManualResetEventSlim();
        var openers = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            start.Wait();
            return PostgresReleaseStore.Open(address);
        })).ToArray();
        start.Set();

        var stores = await Task.WhenAll(openers);
        try
        {
            Assert.Equal(PostgresMigrations.LatestVersion.ToString(), Scope.Scalar("SELECT value FROM releasetools_store WHERE key = 'schema_version'"));
            Assert.Equal(1L, Scope.Scalar("SELECT count(*) FROM releasetools_store WHERE key = 'format'"));
            await stores[0].RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
            Assert.NotNull(await stores[7].GetInstanceAsync("ORDERS-1", None));
        }
        finally
        {
            foreach (var store in stores)
            {
                store.Dispose();
            }
        }
    }

    [SkippableFact]
    public async Task A_schema_written_by_a_newer_release_is_refused_and_left_as_it_was()
    {
        await Scope.Store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        Execute(Scope, "UPDATE releasetools_store SET value = '99' WHERE key = 'schema_version'");

        var refused = Assert.Throws<StoreException>(() => PostgresReleaseStore.Open(Scope.Address));

        Assert.Equal(StoreErrorIds.StoreNewerSchema, refused.ErrorId);
        Assert.Contains("schema 99", refused.Message);
        Assert.Equal("99", Scope.Scalar("SELECT value FROM releasetools_store WHERE key = 'schema_version'"));
        Assert.Equal(1L, Scope.Scalar("SELECT count(*) FROM instances"));
    }

    [SkippableFact]
    public async Task Times_come_from_the_servers_clock()
    {
        using var store = PostgresReleaseStore.Open(Scope.Address);
        var registered = await store.RegisterInstanceAsync(StoreSamples.Instance("orders-1"), None);
        var serverNow = DateTimeOffset.FromUnixTimeMilliseconds((long)Scope.Scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")!);

        Assert.InRange(registered.UpdatedAt, serverNow - TimeSpan.FromSeconds(10), serverNow);
    }

    [Theory]
    [InlineData("postgresql://ops:Sup3rSecret-value@127.0.0.1:1/releases")]
    [InlineData("Host=127.0.0.1;Port=1;Database=releases;Username=ops;Password=Sup3rSecret-value")]
    public void An_unreachable_server_is_reported_without_the_password(string address)
    {
        var failure = Assert.Throws<StoreException>(() => PostgresReleaseStore.Open(address));

        Assert.Equal(StoreErrorIds.StoreUnavailable, failure.ErrorId);
        Assert.Contains("127.0.0.1", failure.Message);
        foreach (var text in new[] { failure.Message, failure.Path ?? "", failure.ToString() })
        {
            Assert.DoesNotContain("Sup3rSecret", text);
        }
    }

    [Fact]
    public void The_password_may_come_from_PGPASSWORD_and_is_never_shown()
    {
        var before = Environment.GetEnvironmentVariable("PGPASSWORD");
        Environment.SetEnvironmentVariable("PGPASSWORD", "From-Env-Secret");
        try
        {
            var address = PostgresStoreAddress.Parse("postgresql://ops@db.example.test:5433/releases?search_path=team_a");

            Assert.Equal("From-Env-Secret", address.Builder.Password);
            Assert.Equal("postgresql://ops@db.example.test:5433/releases (schema team_a)", address.Display);
            Assert.Equal("team_a", address.Schema);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGPASSWORD", before);
        }
    }

    [Theory]
    [InlineData("postgresql://ops@db/releases", true)]
    [InlineData("postgres://db/releases", true)]
    [InlineData("Host=db;Database=releases", true)]
    [InlineData("server=db;database=releases", true)]
    [InlineData("/var/lib/releasetools/releasetools.db", false)]
    [InlineData(@"C:\ReleaseTools\store=1.db", false)]
    [InlineData("releasetools.db", false)]
    public void A_url_or_connection_string_selects_PostgreSQL_and_a_path_selects_SQLite(string location, bool server)
    {
        var target = StoreLocation.ResolveTarget(location);

        Assert.Equal(server, target.ServerAddress != null);
        Assert.Equal(!server, target.FilePath != null);
    }

    [Fact]
    public void RELEASETOOLS_STORE_selects_the_store_when_none_is_given()
    {
        var before = Environment.GetEnvironmentVariable(StoreLocation.EnvironmentVariable);
        Environment.SetEnvironmentVariable(StoreLocation.EnvironmentVariable, "postgresql://ops:pw@db.example.test/releases");
        try
        {
            var target = StoreLocation.ResolveTarget(null);

            Assert.Equal("postgresql://ops@db.example.test/releases (schema releasetools)", target.Display);
        }
        finally
        {
            Environment.SetEnvironmentVariable(StoreLocation.EnvironmentVariable, before);
        }
    }

    [Fact]
    public void A_malformed_address_is_refused_with_an_example_and_without_echoing_it()
    {
        var refused = Assert.Throws<StoreException>(() => PostgresStoreAddress.Parse("Host=db;Password=Sup3rSecret;Bogus Key=1"));

        Assert.Equal(StoreErrorIds.StoreAddressInvalid, refused.ErrorId);
        Assert.DoesNotContain("Sup3rSecret", refused.Message);
        Assert.Contains("postgresql://", refused.Message);
    }

    private static void Execute(PostgresStoreScope scope, string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(PostgresTestServer.ForSchema(scope.Schema)) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}
