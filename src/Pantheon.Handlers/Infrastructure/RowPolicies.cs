using JasperFx.Resources;
using Marten;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pantheon.Handlers.Infrastructure;

/// <summary>
/// Every user-owned table and the SQL expression of its owner, kept as row-level security policies: a row is seen and
/// written only by its owner's transactions (<see cref="DatabaseActor.UserSetting"/>) or by the named system path
/// (<see cref="DatabaseActor.SystemSetting"/> = <c>on</c>). FORCE ROW LEVEL SECURITY holds the tables' owner role too.
/// </summary>
public sealed class RowPolicies
{
    public const string OwnerPolicy = "pantheon_owner_rows";
    public const string SystemPolicy = "pantheon_system_rows";
    public const string ToolsPolicy = "pantheon_tools_projects";

    private readonly List<Func<IDocumentStore, OwnedTable>> _tables = [];

    /// <summary>A table, schema-qualified, and the SQL expression of the user who owns each row.</summary>
    public sealed record OwnedTable(string Table, string Owner, bool SharedWhenNoOwner);

    /// <summary>A Marten document table owned by the user named in the document's JSON property.</summary>
    public RowPolicies Document<T>(string property, bool sharedWhenNoOwner = false)
    {
        _tables.Add(store => new OwnedTable(store.Options.FindOrResolveDocumentType(typeof(T)).TableName.QualifiedName,
            $"(data ->> '{property}')", sharedWhenNoOwner));
        return this;
    }

    /// <summary>A table of our own (raw SQL) in the store's schema, owned by the user in <paramref name="column"/>.</summary>
    public RowPolicies Table(string table, string column)
    {
        _tables.Add(store => new OwnedTable($"{store.Options.DatabaseSchemaName}.{table}", column, false));
        return this;
    }

    public IReadOnlyList<OwnedTable> For(IDocumentStore store) => _tables.Select(t => t(store)).ToList();

    /// <summary>The statements that (re)create every policy: idempotent, run by <c>resources setup</c> as the owner role.</summary>
    public IEnumerable<string> Statements(IDocumentStore store)
    {
        var user = $"current_setting('{DatabaseActor.UserSetting}', true)";
        var system = $"current_setting('{DatabaseActor.SystemSetting}', true) = 'on'";
        foreach (var t in For(store))
        {
            var mine = t.SharedWhenNoOwner ? $"{t.Owner} = {user} or {t.Owner} is null" : $"{t.Owner} = {user}";
            yield return $"alter table {t.Table} enable row level security";
            yield return $"alter table {t.Table} force row level security";
            yield return $"drop policy if exists {OwnerPolicy} on {t.Table}";
            // A user reads the shared rows (a default) but writes only their own.
            yield return $"create policy {OwnerPolicy} on {t.Table} using ({mine}) with check ({t.Owner} = {user})";
            yield return $"drop policy if exists {SystemPolicy} on {t.Table}";
            yield return $"create policy {SystemPolicy} on {t.Table} using ({system}) with check ({system})";
        }
    }
}

/// <summary>
/// <c>resources setup</c>'s step for the database's security, run as the owner role: Marten's schema first (so this step
/// does not depend on the order of resources), then the application role's rights (data only: no DDL, no TRUNCATE),
/// then the row policies.
/// </summary>
public sealed class RowSecuritySetup(
    IDocumentStore store, RowPolicies policies, DatabaseRoles roles, NpgsqlDataSource requests, Wolverine.WolverineOptions wolverine)
    : IStatefulResourceWithDependencies
{
    /// <summary>After every other resource (Marten's schema, Wolverine's tables): the grants and policies cover them all.</summary>
    public IEnumerable<IStatefulResource> FindDependencies(IReadOnlyList<IStatefulResource> others) => others.Where(o => o != this);

    public string Type => "Security";
    public string Name => "row-level-security";
    public Uri SubjectUri => new("pantheon://security");
    public Uri ResourceUri => new("pantheon://security/row-level-security");

    public async Task Setup(CancellationToken token)
    {
        if (roles.Owner is null) throw new InvalidOperationException(
            $"resources setup runs as the owner role: ConnectionStrings:{DatabaseRoles.OwnerConnectionStringName} is not configured.");
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await using var database = NpgsqlDataSource.Create(roles.Owner);
        await using var connection = await database.OpenConnectionAsync(token);
        await using var transaction = await connection.BeginTransactionAsync(token);
        foreach (var sql in Grants().Concat(policies.Statements(store)).Concat(ToolsGrants()))
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            await command.ExecuteNonQueryAsync(token);
        }
        await transaction.CommitAsync(token);
    }

    /// <summary>The application role's data rights in Marten's schema and in Wolverine's message schema (a setting).</summary>
    private IEnumerable<string> Grants() =>
        new[] { store.Options.DatabaseSchemaName, wolverine.Durability.MessageStorageSchemaName ?? store.Options.DatabaseSchemaName }
            .Distinct().SelectMany(Grants);

    private IEnumerable<string> Grants(string schema)
    {
        var app = Quote(roles.Application);
        yield return $"grant usage on schema {schema} to {app}";
        yield return $"grant select, insert, update, delete on all tables in schema {schema} to {app}";
        yield return $"grant usage, select, update on all sequences in schema {schema} to {app}";
        yield return $"grant execute on all functions in schema {schema} to {app}";
        // What Wolverine and later setups add to the schema gets the same rights.
        yield return $"alter default privileges in schema {schema} grant select, insert, update, delete on tables to {app}";
        yield return $"alter default privileges in schema {schema} grant usage, select, update on sequences to {app}";
        yield return $"alter default privileges in schema {schema} grant execute on functions to {app}";
    }

    /// <summary>
    /// The tools API's role acts for projects, not users: it reads every project's <c>ProjectView</c> (to know which
    /// project an address or id is) and appends tool events to project streams. Nothing else: no keys, chats or budgets.
    /// </summary>
    private IEnumerable<string> ToolsGrants()
    {
        var schema = store.Options.Events.DatabaseSchemaName;
        var tools = Quote(DatabaseRoles.ToolsRole);
        var projects = store.Options.FindOrResolveDocumentType(typeof(Pantheon.Projections.Projects.ProjectView)).TableName.QualifiedName;
        yield return $"grant usage on schema {schema} to {tools}";
        yield return $"grant select on {projects} to {tools}";
        yield return $"drop policy if exists {RowPolicies.ToolsPolicy} on {projects}";
        yield return $"create policy {RowPolicies.ToolsPolicy} on {projects} for select to {tools} using (true)";
        yield return $"grant select, insert, update on {schema}.mt_events, {schema}.mt_streams to {tools}";
        yield return $"grant usage, select, update on all sequences in schema {schema} to {tools}";
        yield return $"grant execute on all functions in schema {schema} to {tools}";
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    /// <summary>Fails when a user-owned table has no policy or lets its owner role bypass it.</summary>
    public async Task Check(CancellationToken token)
    {
        await using var connection = await requests.OpenConnectionAsync(token);
        foreach (var table in policies.For(store))
        {
            await using var command = new NpgsqlCommand(
                "select c.relrowsecurity and c.relforcerowsecurity from pg_class c where c.oid = $1::regclass", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = table.Table });
            if (await command.ExecuteScalarAsync(token) is not true)
                throw new InvalidOperationException($"{table.Table} has no forced row-level security: run resources setup.");
        }
    }

    public Task ClearState(CancellationToken token) => Task.CompletedTask;
    public Task Teardown(CancellationToken token) => Task.CompletedTask;

    public Task<IRenderable> DetermineStatus(CancellationToken token) =>
        Task.FromResult<IRenderable>(new Markup($"{policies.For(store).Count} user-owned tables under row-level security"));
}

/// <summary>
/// The two database roles: the application role the backend runs as (no DDL rights, no BYPASSRLS), from
/// <c>ConnectionStrings:Marten</c>, and the owner role that applies schema changes, from
/// <c>ConnectionStrings:MartenOwner</c> (needed only by <c>resources setup</c> and the operators' commands).
/// </summary>
public sealed record DatabaseRoles(string ApplicationConnection, string? Owner)
{
    public const string ConnectionStringName = "Marten";
    public const string OwnerConnectionStringName = "MartenOwner";

    /// <summary>The tools API's own role (scripts/db-roles.sql): project rows and tool events only.</summary>
    public const string ToolsRole = "pantheon_tools";

    public string Application => new NpgsqlConnectionStringBuilder(ApplicationConnection).Username
        ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionStringName} names no user.");

    /// <summary>
    /// The statements a backend process runs again and again are prepared on each pooled connection after their fifth use
    /// (Npgsql's auto-prepare), unless the connection string sets <c>Max Auto Prepare</c> itself. Without it, every time a
    /// connection leaves the pool PostgreSQL runs <c>DISCARD ALL</c>, which drops every cached plan, those inside Marten's
    /// append function included, so each statement was parsed and planned anew: in the chat benchmark at 16 at once, that
    /// was about a third of PostgreSQL's CPU per turn. With statements prepared, Npgsql resets a connection without
    /// dropping plans, and still resets everything else its last use set (settings, listens, advisory locks).
    /// </summary>
    public static string Prepared(string connectionString)
    {
        // The keys as written (Npgsql's builder answers ContainsKey for every keyword it knows, set or not).
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.Keys.Cast<string>().Any(k => k.Replace(" ", "").Equals("MaxAutoPrepare", StringComparison.OrdinalIgnoreCase)))
            return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = MaxAutoPrepare }.ConnectionString;
    }

    /// <summary>How many statements each connection keeps prepared when the connection string does not say.</summary>
    public const int MaxAutoPrepare = 64;

    /// <summary>The system path's connections: the same role, with the system setting on from their first statement.</summary>
    public static string System(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = $"{builder.Options} -c {DatabaseActor.SystemSetting}=on".Trim();
        return builder.ConnectionString;
    }
}

/// <summary>How JasperFx's <c>resources</c> command finds <see cref="RowSecuritySetup"/>.</summary>
public sealed class RowSecurityPart(RowSecuritySetup setup)
    : JasperFx.CommandLine.Descriptions.SystemPartBase("Row-level security", new Uri("pantheon://security"))
{
    public override ValueTask<IReadOnlyList<IStatefulResource>> FindResources() => new([setup]);
}
