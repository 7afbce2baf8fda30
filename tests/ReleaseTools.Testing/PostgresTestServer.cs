using Npgsql;
using Xunit;

namespace ReleaseTools.Testing;

/// <summary>
/// The real PostgreSQL server the store tests run against, named by RELEASETOOLS_TEST_POSTGRES (an Npgsql connection
/// string; .ci/run starts one and sets it). Under CI a missing server fails the test; locally the test is skipped
/// with the command that starts one. Each test works in a schema of its own, dropped afterwards.
/// </summary>
public static class PostgresTestServer
{
    public const string EnvironmentVariable = "RELEASETOOLS_TEST_POSTGRES";

    private const string HowToStart =
        "Start one with 'bash .ci/postgres.sh' (PostgreSQL 15 from the Debian packages, on 127.0.0.1) and export the " + EnvironmentVariable + " line it prints.";

    /// <summary>The server's connection string; skips (locally) or fails (CI=true) when no server was given.</summary>
    public static string ConnectionString
    {
        get
        {
            var value = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(value))
            {
                return value;
            }

            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"{EnvironmentVariable} is not set, so the PostgreSQL store tests cannot run. .ci/run must start the server. {HowToStart}");
            }

            Skip.If(true, $"No PostgreSQL server for the store tests: {EnvironmentVariable} is not set. {HowToStart}");
            return "";
        }
    }

    /// <summary>A fresh schema name, so tests never see each other's rows.</summary>
    public static string NewSchemaName() => "rt_test_" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The server's connection string with the store's tables in <paramref name="schema"/>.</summary>
    public static string ForSchema(string schema) => new NpgsqlConnectionStringBuilder(ConnectionString) { SearchPath = schema }.ConnectionString;

    public static void DropSchema(string schema)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
        command.ExecuteNonQuery();
    }

    public static object? Scalar(string schema, string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ForSchema(schema)) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return command.ExecuteScalar();
    }
}
