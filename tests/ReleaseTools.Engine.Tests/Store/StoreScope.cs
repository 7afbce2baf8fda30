using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Postgres;
using ReleaseTools.Engine.Store.Sqlite;
using ReleaseTools.Testing;

namespace ReleaseTools.Engine.Tests.Store;

/// <summary>A clock the test moves by hand, so lease expiry is tested without sleeping.</summary>
public sealed class ManualClock
{
    private long _ticks = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero).UtcTicks;

    public DateTimeOffset Now => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>One store for one test, of either kind: what the contract tests see.</summary>
public interface IStoreScope : IDisposable
{
    /// <summary>The store, opened on first use with <see cref="Clock"/>.</summary>
    IReleaseStore Store { get; }

    /// <summary>Another store object on the same data: what a second process would open.</summary>
    IReleaseStore Open();

    /// <summary>The time every store opened here records: moved by hand, so expiry is tested without sleeping.</summary>
    ManualClock Clock { get; }
}

/// <summary>A real store file in its own temp folder; everything it opened is closed and deleted on dispose.</summary>
internal sealed class StoreScope : IStoreScope
{
    private readonly List<SqliteReleaseStore> _opened = new();

    public StoreScope()
    {
        Directory = new TempDirectory("rt-store");
        StorePath = Directory.Combine("nested", "folder", "releasetools.db");
    }

    public TempDirectory Directory { get; }
    public string StorePath { get; }
    public ManualClock Clock { get; } = new();

    private SqliteReleaseStore? _store;

    /// <summary>The store at <see cref="StorePath"/>, opened on first use with the manual clock.</summary>
    public SqliteReleaseStore Store => _store ??= Open();

    IReleaseStore IStoreScope.Store => Store;

    IReleaseStore IStoreScope.Open() => Open();

    public SqliteReleaseStore Open()
    {
        var store = SqliteReleaseStore.Open(StorePath, () => Clock.Now);
        _opened.Add(store);
        return store;
    }

    /// <summary>Closes every pooled handle, so the file can be inspected or altered byte for byte.</summary>
    public void CloseAll()
    {
        foreach (var store in _opened)
        {
            store.Dispose();
        }

        _opened.Clear();
        _store = null;
        SqliteConnection.ClearAllPools();
    }

    /// <summary>A raw connection outside the store, for checking what is really in the file.</summary>
    public SqliteConnection Raw(string? path = null, SqliteOpenMode mode = SqliteOpenMode.ReadWriteCreate)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path ?? StorePath, Mode = mode, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public object? Scalar(string sql, string? path = null)
    {
        using var connection = Raw(path);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    public void Execute(string sql, string? path = null)
    {
        using var connection = Raw(path);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    public void Dispose()
    {
        CloseAll();
        Directory.Dispose();
    }
}

/// <summary>
/// A schema of its own on the real PostgreSQL test server (see <see cref="PostgresTestServer"/>), dropped on dispose.
/// The stores it opens still ask the server for the time on every write; the manual clock replaces the answer.
/// </summary>
internal sealed class PostgresStoreScope : IStoreScope
{
    private readonly List<PostgresReleaseStore> _opened = new();
    private PostgresReleaseStore? _store;

    public PostgresStoreScope()
    {
        Schema = PostgresTestServer.NewSchemaName();
        Address = PostgresStoreAddress.Parse(PostgresTestServer.ForSchema(Schema));
    }

    public string Schema { get; }
    public PostgresStoreAddress Address { get; }
    public ManualClock Clock { get; } = new();

    public PostgresReleaseStore Store => _store ??= Open();

    IReleaseStore IStoreScope.Store => Store;

    IReleaseStore IStoreScope.Open() => Open();

    public PostgresReleaseStore Open()
    {
        var store = PostgresReleaseStore.Open(Address, _ => Clock.Now);
        _opened.Add(store);
        return store;
    }

    /// <summary>A value read straight from the server, in this scope's schema.</summary>
    public object? Scalar(string sql) => PostgresTestServer.Scalar(Schema, sql);

    public void Dispose()
    {
        foreach (var store in _opened)
        {
            store.Dispose();
        }

        PostgresTestServer.DropSchema(Schema);
    }
}

/// <summary>Builders for the records the tests write, with values that say what they are.</summary>
internal static class StoreSamples
{
    public static InstanceRegistration Instance(string id, string service = "orders", string environment = "prod", string? host = null, int port = 8080, params string[] tags) => new()
    {
        InstanceId = id,
        Service = service,
        Environment = environment,
        Host = host ?? $"{id}.example.test",
        Port = port,
        Tags = tags,
    };

    public static NewDeployment Deployment(string service = "orders", string version = "2.0.0", DeploymentOperation operation = DeploymentOperation.Deploy) => new()
    {
        Operation = operation,
        Service = service,
        TargetVersion = version,
        PackageUrl = $"https://packages.example.test/{service}/{version}.zip",
        PackageMd5 = "0123456789abcdef0123456789abcdef",
        FVersion = $"{version}+f1",
        InitiatedBy = @"CONTOSO\alice",
        InitiatedFrom = "build-host-7",
        BatchCount = 1,
        ParametersJson = "{\"throttle\":5}",
    };

    public static DeploymentTargetRecord Target(string instanceId, TargetStatus status = TargetStatus.Pending, int batch = 0, string service = "orders", string version = "2.0.0") => new()
    {
        InstanceId = instanceId,
        Service = service,
        Environment = "prod",
        Batch = batch,
        TargetVersion = version,
        TargetFVersion = $"{version}+f1",
        Status = status,
    };

    public static ReleaseOutcome Release(string deploymentId, string instanceId, string version, TargetStatus status = TargetStatus.Succeeded) => new()
    {
        DeploymentId = deploymentId,
        InstanceId = instanceId,
        Operation = DeploymentOperation.Deploy,
        Version = version,
        FVersion = $"{version}+f1",
        PackageUrl = $"https://packages.example.test/orders/{version}.zip",
        PackageMd5 = "0123456789abcdef0123456789abcdef",
        ConfigDigest = $"digest-{version}",
        ConfigFileName = "appsettings.json",
        TargetStatus = status,
        Attempts = 1,
        PackageTransferred = status != TargetStatus.Unchanged,
        ConfigTransferred = status != TargetStatus.Unchanged,
        StartedAt = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero),
        EndedAt = new DateTimeOffset(2026, 11, 23, 12, 0, 5, TimeSpan.Zero),
    };
}
