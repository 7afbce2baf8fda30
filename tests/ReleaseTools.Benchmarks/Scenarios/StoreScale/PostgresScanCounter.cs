using Npgsql;

namespace ReleaseTools.Benchmarks.Scenarios.StoreScale;

/// <summary>
/// The server's own count of sequential and index scans per table of one schema (pg_stat_user_tables). Read before
/// and after the workload, the difference shows whether any query the module issued walked a large table instead of
/// using an index: every query is covered, not only those a test thought to EXPLAIN.
/// </summary>
public sealed class PostgresScanCounter
{
    private readonly string _connectionString;
    private readonly string _schema;

    public PostgresScanCounter(string connectionString, string schema)
    {
        _connectionString = connectionString;
        _schema = schema;
    }

    /// <summary>Table → (sequential scans, index scans).</summary>
    public async Task<Dictionary<string, (long Sequential, long Index)>> ReadAsync()
    {
        // A backend reports its counters when it goes idle for a while or exits; the caller closes the store's pool
        // first, and this waits for the closed backends to have reported.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        using var command = new NpgsqlCommand("SELECT relname, coalesce(seq_scan, 0), coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE schemaname = @schema", connection);
        command.Parameters.AddWithValue("schema", _schema);
        var counts = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            counts[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }

        return counts;
    }

    public async Task AnalyzeAsync()
    {
        using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        using var command = new NpgsqlCommand("ANALYZE", connection);
        await command.ExecuteNonQueryAsync();
    }
}
