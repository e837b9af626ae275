using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.Handlers.Infrastructure;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>
/// The backend's connections keep their statements prepared (<see cref="DatabaseRoles.Prepared"/>), and a connection back
/// from the pool still carries nothing of its last use: Npgsql's reset of a connection with prepared statements keeps
/// the plans and resets the rest.
/// </summary>
[Collection(AppCollection.Name)]
public class PreparedStatementTests(AppFixture app)
{
    [Fact]
    public async Task the_backends_connections_prepare_a_statement_they_run_again_and_again()
    {
        await using var requests = await app.Host.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
        (await PreparedAfterRepeatedUse(requests)).ShouldBeGreaterThan(0);

        var store = app.Host.Services.GetRequiredService<IDocumentStore>();
        await using var system = store.Storage.Database.CreateConnection();
        await system.OpenAsync();
        (await PreparedAfterRepeatedUse(system)).ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task a_pooled_connection_keeps_its_plans_and_loses_its_settings()
    {
        // One connection in the pool, so the second open is the first's connection again.
        var builder = new NpgsqlConnectionStringBuilder(DatabaseRoles.Prepared(TestDatabase.Application)) { MaxPoolSize = 1 };
        await using var source = NpgsqlDataSource.Create(builder.ConnectionString);
        int pid;
        await using (var first = await source.OpenConnectionAsync())
        {
            (await PreparedAfterRepeatedUse(first)).ShouldBeGreaterThan(0);
            await Scalar(first, $"select set_config('{DatabaseActor.UserSetting}', 'someone', false)"); // a session-wide setting
            await Scalar(first, "set application_name = 'left behind'");
            pid = (int)(await Scalar(first, "select pg_backend_pid()"))!;
        }

        await using var second = await source.OpenConnectionAsync();
        ((int)(await Scalar(second, "select pg_backend_pid()"))!).ShouldBe(pid);
        (await Scalar(second, $"select coalesce(current_setting('{DatabaseActor.UserSetting}', true), '')")).ShouldBe("");
        (await Scalar(second, "select current_setting('application_name')")).ShouldNotBe("left behind");
        (await Scalar(second, "select count(*) from pg_prepared_statements")).ShouldNotBe(0L);
    }

    /// <summary>Runs one statement past Npgsql's auto-prepare threshold; answers how many statements the session holds prepared.</summary>
    internal static async Task<long> PreparedAfterRepeatedUse(NpgsqlConnection connection)
    {
        for (var i = 0; i < 10; i++) await Scalar(connection, "select 1 + 1");
        return (long)(await Scalar(connection, "select count(*) from pg_prepared_statements"))!;
    }

    private static async Task<object?> Scalar(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
