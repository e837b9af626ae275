using Marten;
using Marten.Events;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.Handlers.Infrastructure;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;
using Pantheon.Projections.Keys;
using Pantheon.Web.Auth;
using Pantheon.Web.RowSecurity;

namespace Pantheon.IntegrationTests.Security;

/// <summary>
/// Row-level security seen from the database: the application role (what every test host runs as) with one user set
/// gets that user's rows from every user-owned table, whatever the query says; with no actor it gets none.
/// </summary>
[Collection(AppCollection.Name)]
public class RowSecurityTests(AppFixture app)
{
    private static readonly string Admin = TestSettings.TokenFor(TestSettings.NewUser("operator"), roles: AuthSettings.AdminRole);

    private IReadOnlyList<RowPolicies.OwnedTable> Tables =>
        RowSecurityConfiguration.UserOwnedTables().For(app.Host.Services.GetRequiredService<IDocumentStore>());

    [Fact]
    public async Task as_the_application_role_a_user_sees_only_their_own_rows_of_every_user_owned_table()
    {
        var (alice, aliceToken, aliceProject) = await UserWithEverything(withProject: true);
        var (bob, bobToken, bobProject) = await UserWithEverything(withProject: true);

        foreach (var table in Tables)
        {
            // Counted by the superuser first: the saga may still add to alice's audit entries while this runs.
            var all = await Count(TestDatabase.ConnectionString, null, $"select count(*) from {table.Table} where {table.Owner} = $1", alice);
            var bobs = await Count(TestDatabase.ConnectionString, null, $"select count(*) from {table.Table} where {table.Owner} = $1", bob);
            if (!table.Table.EndsWith(".budget_reservations")) // a settled turn leaves no reservation
            {
                all.ShouldBeGreaterThan(0, $"{table.Table} holds none of alice's rows");
                bobs.ShouldBeGreaterThan(0, $"{table.Table} holds none of bob's rows");
            }

            // A select with no filter at all: alice's rows (and, where rows may have no owner, the shared ones), no one else's.
            var shared = table.SharedWhenNoOwner ? $" and {table.Owner} is not null" : "";
            (await Count(TestDatabase.Application, new DatabaseActor.User(alice), $"select count(*) from {table.Table} where true{shared}"))
                .ShouldBeGreaterThanOrEqualTo(all, table.Table);
            (await Count(TestDatabase.Application, new DatabaseActor.User(alice),
                $"select count(*) from {table.Table} where {table.Owner} is distinct from $1{shared}", alice)).ShouldBe(0, table.Table);
        }

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{aliceProject}", aliceToken, status: 202);
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{bobProject}", bobToken, status: 202);
    }

    [Fact]
    public async Task a_query_written_without_the_user_filter_still_returns_only_the_callers_rows()
    {
        var (alice, _, _) = await UserWithEverything();
        await UserWithEverything();
        var sessions = app.Host.Services.GetRequiredService<ActorSessions>();

        await using var session = await sessions.ForAsync(new DatabaseActor.User(alice), default);
        var keys = await session.Query<ProviderKeyView>().ToListAsync(); // no Where(UserId == ...)
        keys.Count.ShouldBe(1);
        keys.ShouldAllBe(k => k.UserId == alice);

        // Work for no user reads across users only on the named system path.
        await using var system = await sessions.ForAsync(new DatabaseActor.System("test: every user's keys"), default);
        (await system.Query<ProviderKeyView>().CountAsync()).ShouldBeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public async Task with_no_actor_set_the_application_role_and_the_owner_role_see_no_user_owned_row()
    {
        await UserWithEverything();
        foreach (var table in Tables)
        {
            (await Count(TestDatabase.Application, null, $"select count(*) from {table.Table}")).ShouldBe(0, table.Table);
            // FORCE ROW LEVEL SECURITY: the tables' owner is held to the policies too.
            (await Count(TestDatabase.Owner, null, $"select count(*) from {table.Table}")).ShouldBe(0, table.Table);
        }
    }

    [Fact]
    public async Task the_application_role_can_change_no_schema_and_bypass_no_policy()
    {
        await using var connection = new NpgsqlConnection(TestDatabase.Application);
        await connection.OpenAsync();
        await using (var role = new NpgsqlCommand(
            "select rolsuper or rolbypassrls or rolcreatedb or rolcreaterole from pg_roles where rolname = current_user", connection))
            (await role.ExecuteScalarAsync()).ShouldBe(false);

        var table = Tables.First(t => t.Table.EndsWith("mt_doc_projectview")).Table;
        string[] refused =
        [
            "create table pantheon.intruder (id int)",
            "create table public.intruder (id int)",
            "create schema intruder",
            $"alter table {table} add column intruder int",
            $"alter table {table} disable row level security",
            $"drop policy {RowPolicies.OwnerPolicy} on {table}",
            $"truncate {table}",
            "drop table pantheon.mt_events",
            "create function pantheon.intruder() returns int language sql as 'select 1'",
        ];
        foreach (var sql in refused)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            var e = await Should.ThrowAsync<PostgresException>(() => command.ExecuteNonQueryAsync(), sql);
            e.SqlState.ShouldBe(PostgresErrorCodes.InsufficientPrivilege, sql);
        }
    }

    [Fact]
    public async Task every_table_that_holds_a_user_id_is_under_row_level_security()
    {
        await using var connection = new NpgsqlConnection(TestDatabase.ConnectionString);
        await connection.OpenAsync();
        // Tables of our own with a user column, and document tables whose documents name a user.
        await using var command = new NpgsqlCommand("""
            select format('%s.%s', table_schema, table_name) from information_schema.columns
            where table_schema = 'pantheon' and column_name = 'user_id'
            """, connection);
        var holders = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) holders.Add(reader.GetString(0));
        var store = app.Host.Services.GetRequiredService<IDocumentStore>();
        holders.AddRange(store.Options.AllKnownDocumentTypes()
            .Where(d => d.DocumentType.Assembly != typeof(Wolverine.Envelope).Assembly) // Wolverine's own storage: no user's data
            .Where(d => d.DocumentType.GetProperty("UserId") is not null || d.DocumentType.GetProperty("OwnerId") is not null)
            .Select(d => store.Options.FindOrResolveDocumentType(d.DocumentType).TableName.QualifiedName));

        var covered = Tables.Select(t => t.Table).ToHashSet();
        holders.Distinct().Where(t => !covered.Contains(t)).ShouldBeEmpty("add them to RowSecurityConfiguration.UserOwnedTables");
        await using var forced = new NpgsqlCommand(
            "select count(*) from pg_class where oid = any($1::regclass[]) and relrowsecurity and relforcerowsecurity", connection);
        forced.Parameters.Add(new NpgsqlParameter { Value = covered.ToArray() });
        (await forced.ExecuteScalarAsync()).ShouldBe((long)covered.Count);
    }

    /// <summary>A user with a row in every user-owned table, made through the API.</summary>
    private async Task<(string User, string Token, Guid? Project)> UserWithEverything(bool withProject = false)
    {
        var user = TestSettings.NewUser("rls");
        var token = TestSettings.TokenFor(user, $"{user}@example.com", "Row");
        await app.Host.Send(HttpMethod.Get, "/api/me", token);
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token, new { preferred_model = "openrouter/x" });
        await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token,
            new { name = "mine", provider = "openai", key = "sk-rls-0123456789" }, status: 201);
        await app.Host.Send(HttpMethod.Post, "/api/user/models", token,
            new { model_id = $"m-{user}", provider = "openai-compatible", endpoint = "https://models.example/v1" }, status: 201);
        await app.Host.Send(HttpMethod.Put, $"/api/admin/budgets/{user}", Admin, new { monthly_tokens = 1_000_000 });
        await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hello", model = "openrouter/x" });
        Guid? project = withProject ? await app.Host.Create(token, "rls") : null;
        (await app.Host.ForceAllMartenDaemonActivityToCatchUpAsync(CancellationToken.None)).ShouldBeEmpty();
        return (user, token, project);
    }

    /// <summary>One count, in a transaction of <paramref name="actor"/> (none: the connection as it comes).</summary>
    private static async Task<long> Count(string connectionString, DatabaseActor? actor, string sql, params object[] values)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        if (actor is not null)
        {
            await using var set = actor.SetCommand(connection);
            await set.ExecuteNonQueryAsync();
        }
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
