using Alba;
using Microsoft.AspNetCore.Hosting;
using Wolverine;
using Marten;
using Marten.Events;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Users;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Viewer;
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
            var owned = $"select count(*) from {table.Table} where {table.Owner} = $1";
            var all = await Count(TestDatabase.ConnectionString, null, owned, alice);
            var bobs = await Count(TestDatabase.ConnectionString, null, owned, bob);
            if (!MayBeEmpty.Any(table.Table.EndsWith))
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
            // A shared row (the default budget, which has no owner) is every user's to read, an operator's test may have set it.
            var owned = table.SharedWhenNoOwner ? $" where {table.Owner} is not null" : "";
            (await Count(TestDatabase.Application, null, $"select count(*) from {table.Table}{owned}")).ShouldBe(0, table.Table);
            // FORCE ROW LEVEL SECURITY: the tables' owner is held to the policies too.
            (await Count(TestDatabase.Owner, null, $"select count(*) from {table.Table}{owned}")).ShouldBe(0, table.Table);
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

    /// <summary>
    /// Tables that hold a user column and deliberately have no row policy, each with its reason. Anything else with a user
    /// or owner column must be under forced row-level security.
    /// </summary>
    private static readonly Dictionary<string, string> WithoutPolicies = new()
    {
        // The event log: Marten's daemon and every replay read all of it; users reach events only through filtered paths
        // (the audit routes read AuditEntry rows, which have policies; a project's events route checks the owner).
        ["mt_events"] = "the event log (user_name is who caused an event)",
        // Wolverine's storage, in Marten's schema or a message schema of its own: owner_id is the node that owns a message.
        ["wolverine_incoming_envelopes"] = "owner_id is a Wolverine node",
        ["wolverine_outgoing_envelopes"] = "owner_id is a Wolverine node",
        ["mt_doc_envelope"] = "Wolverine's envelopes as Marten documents: OwnerId is a Wolverine node",
    };

    /// <summary>User-owned tables that may hold no row of a user made through the API, and why.</summary>
    private static readonly string[] MayBeEmpty =
    [
        ".budget_reservations", // a settled turn leaves no reservation
        ".mt_doc_providerkey", ".mt_doc_project", // write models used as stream types: Marten stores no row of them
    ];

    private static readonly string[] UserColumns = ["user_id", "owner_id", "user_name", "userid", "ownerid"];

    [Fact]
    public async Task every_table_with_a_user_or_owner_column_has_a_forced_owner_policy()
    {
        await using var connection = new NpgsqlConnection(TestDatabase.ConnectionString);
        await connection.OpenAsync();
        // Every table of every schema of ours, from pg_class: its columns, whether row-level security is forced, its policies.
        await using var command = new NpgsqlCommand("""
            select format('%s.%s', n.nspname, c.relname), c.relrowsecurity and c.relforcerowsecurity,
                   array(select lower(a.attname::text) from pg_attribute a
                         where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
                   array(select p.polname::text from pg_policy p where p.polrelid = c.oid)
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'
            """, connection);
        var tables = new List<(string Name, bool Forced, string[] Columns, string[] Policies)>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                tables.Add((reader.GetString(0), reader.GetBoolean(1), reader.GetFieldValue<string[]>(2),
                    reader.GetFieldValue<string[]>(3)));
        tables.ShouldContain(t => t.Name == "pantheon.mt_events"); // the listing sees the schema at all

        // A document's owner is inside its JSON: a Marten document type with a UserId or OwnerId is a user-owned table too.
        var store = app.Host.Services.GetRequiredService<IDocumentStore>();
        var documentOwners = store.Options.AllKnownDocumentTypes()
            .Where(d => d.DocumentType.GetProperty("UserId") is not null || d.DocumentType.GetProperty("OwnerId") is not null)
            .Select(d => store.Options.FindOrResolveDocumentType(d.DocumentType).TableName.QualifiedName).ToHashSet();

        var unguarded = tables
            .Where(t => t.Columns.Any(UserColumns.Contains) || documentOwners.Contains(t.Name))
            .Where(t => !WithoutPolicies.ContainsKey(t.Name[(t.Name.IndexOf('.') + 1)..]))
            .Where(t => !t.Forced || !t.Policies.Contains(RowPolicies.OwnerPolicy))
            .Select(t => t.Name).ToList();
        unguarded.ShouldBeEmpty("add them to RowSecurityConfiguration.UserOwnedTables (resources setup gives them their policies)");

        // And the list itself: every table it names exists and is forced.
        var listed = Tables.Select(t => t.Table).ToList();
        listed.Where(t => !tables.Any(x => x.Name == t && x.Forced)).ShouldBeEmpty();
    }

    /// <summary>
    /// <paramref name="toldToOwnTheSchema"/>: the setting that once chose the owner role (<c>Database__AsSchemaOwner=true</c> in
    /// an operator's environment) is given too; only the schema commands connect as the owner, whatever the configuration.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task the_backend_applies_no_schema_change_at_start_up(bool toldToOwnTheSchema)
    {
        // A database with the two roles and no `resources setup`: what a backend finds when the deployment skipped the step.
        var superuser = await TestDatabase.BareAsync(toldToOwnTheSchema ? "rls_bare_owner" : "rls_bare");
        var settings = TestSettings.Base();
        if (toldToOwnTheSchema) settings["Database:AsSchemaOwner"] = "true";
        settings["ConnectionStrings:Marten"] = TestDatabase.As(superuser, TestDatabase.ApplicationRole);
        settings["ConnectionStrings:MartenOwner"] = TestDatabase.As(superuser, TestDatabase.OwnerRole);
        settings[AppFixture.MessageSchemaSetting] = "pantheon";
        var started = await Record.ExceptionAsync(async () =>
        {
            await using var host = await AppFixture.ForAsync(b =>
            {
                b.UseEnvironment("Testing");
                foreach (var (key, value) in settings) b.UseSetting(key, value);
                b.ConfigureServices(services =>
                {
                    services.RunWolverineInSoloMode();
                    services.MartenDaemonModeIsSolo();
                });
            });
            await host.Scenario(s =>
            {
                s.Get.Url("/api/me");
                s.WithRequestHeader("Authorization", $"Bearer {TestSettings.TokenFor(TestSettings.NewUser("bare"))}");
                s.IgnoreStatusCode();
            });
        });

        // Whether or not it started, it made nothing: no schema, no table, anywhere.
        await using var connection = new NpgsqlConnection(superuser);
        await connection.OpenAsync();
        await using var made = new NpgsqlCommand("""
            select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'
            """, connection);
        (await made.ExecuteScalarAsync()).ShouldBe(0L, started?.ToString());
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
        // A viewer ticket (the API issues one only for a running VM) and a turn still open (its reply not yet recorded).
        await app.Host.Services.GetRequiredService<ViewerTickets>()
            .IssueAsync(user, project ?? Guid.NewGuid(), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(1), default);
        // A tool call of an agent turn waiting for the user's approval.
        await app.Host.Services.GetRequiredService<Pantheon.Handlers.Chat.ToolApprovals>().OpenAsync(Guid.NewGuid(), user,
            Guid.NewGuid(), Guid.NewGuid(), "list_files", DateTimeOffset.UtcNow.AddMinutes(1), default);
        var sessions = app.Host.Services.GetRequiredService<ActorSessions>();
        await using (var session = await sessions.ForAsync(new DatabaseActor.User(user), default))
        {
            var conversation = UserId.ConversationStreamFor(user, Guid.NewGuid());
            session.LastModifiedBy = user;
            session.Events.StartStream(conversation, new MessageSent(conversation, Guid.NewGuid(), user, null, "open", "openrouter/x",
                DateTimeOffset.UtcNow));
            await session.SaveChangesAsync();
        }
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
