using Npgsql;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>
/// The PostgreSQL database the tests use: the cluster <c>./test.sh</c> starts (127.0.0.1:5433), database
/// <c>pantheon_tests</c>, apart from the one <c>./run.sh</c> uses. <c>PANTHEON_TEST_CONNECTION</c> overrides it.
/// </summary>
public static class TestDatabase
{
    public static readonly string ConnectionString = Environment.GetEnvironmentVariable("PANTHEON_TEST_CONNECTION")
        ?? "Host=127.0.0.1;Port=5433;Database=pantheon_tests;Username=postgres;Password=postgres;Maximum Pool Size=40";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly HashSet<string> Created = [];

    public static Task EnsureCreatedAsync() => EnsureCreatedAsync(ConnectionString);

    /// <summary>Another database in the same cluster, for a test that needs one to itself (named after this run's).</summary>
    public static async Task<string> OwnAsync(string name)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        var connection = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = $"{builder.Database}_{name}" }.ConnectionString;
        await EnsureCreatedAsync(connection);
        return connection;
    }

    private static async Task EnsureCreatedAsync(string connectionString)
    {
        await Gate.WaitAsync();
        try
        {
            if (Created.Contains(connectionString)) return;
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            var name = builder.Database!;
            builder.Database = "postgres";
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync();
            await using var exists = new NpgsqlCommand("select 1 from pg_database where datname = @name", connection);
            exists.Parameters.AddWithValue("name", name);
            if (await exists.ExecuteScalarAsync() is null)
            {
                await using var create = new NpgsqlCommand($"create database \"{name}\"", connection);
                await create.ExecuteNonQueryAsync();
            }
            Created.Add(connectionString);
        }
        finally
        {
            Gate.Release();
        }
    }
}
