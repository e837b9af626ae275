using Marten.Events.Daemon.Coordination;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>
/// The PostgreSQL database the tests use: the cluster <c>./test.sh</c> starts (127.0.0.1:5433), database
/// <c>pantheon_tests</c>, apart from the one <c>./run.sh</c> uses. <c>PANTHEON_TEST_CONNECTION</c> overrides it; it names
/// a superuser, which the tests use only to make databases and roles (scripts/db-roles.sql) and to look at rows from
/// outside. The schema is applied by <c>resources setup</c> as the owner role; every test host runs as the application role.
/// </summary>
public static class TestDatabase
{
    /// <summary>The superuser's connection to this run's database.</summary>
    public static readonly string ConnectionString = Environment.GetEnvironmentVariable("PANTHEON_TEST_CONNECTION")
        ?? "Host=127.0.0.1;Port=5433;Database=pantheon_tests;Username=postgres;Password=postgres;Maximum Pool Size=40";

    public const string ApplicationRole = "pantheon_app";
    public const string OwnerRole = "pantheon_owner";

    /// <summary>What the backend connects as: the application role (no DDL, no BYPASSRLS).</summary>
    public static string Application => As(ConnectionString, ApplicationRole);

    /// <summary>The owner role, which applies the schema (<c>resources setup</c>).</summary>
    public static string Owner => As(ConnectionString, OwnerRole);

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly HashSet<string> Created = [];

    public static Task EnsureCreatedAsync() => EnsureCreatedAsync(ConnectionString);

    /// <summary>
    /// Another database in the same cluster, for a test that needs one to itself (named after this run's), set up like
    /// this run's: the answer is the application role's connection string.
    /// </summary>
    public static async Task<string> OwnAsync(string name)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        var connection = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = $"{builder.Database}_{name}" }.ConnectionString;
        await EnsureCreatedAsync(connection);
        return As(connection, ApplicationRole);
    }

    /// <summary>The same database as another role (the superuser of <c>PANTHEON_TEST_CONNECTION</c>, the owner, the application).</summary>
    public static string As(string connectionString, string role)
    {
        var admin = new NpgsqlConnectionStringBuilder(ConnectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Username = role,
            Password = role == admin.Username ? admin.Password : role, // the roles' development passwords (db-roles.sql)
        };
        return builder.ConnectionString;
    }

    /// <summary>The superuser's connection to the database of <paramref name="connectionString"/>: it sees every row.</summary>
    public static string AsSuperuser(string connectionString) =>
        As(connectionString, new NpgsqlConnectionStringBuilder(ConnectionString).Username!);

    private static async Task EnsureCreatedAsync(string connectionString)
    {
        await Gate.WaitAsync();
        try
        {
            if (Created.Contains(connectionString)) return;
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            var name = builder.Database!;
            builder.Database = "postgres";
            await using (var connection = new NpgsqlConnection(builder.ConnectionString))
            {
                await connection.OpenAsync();
                await using var exists = new NpgsqlCommand("select 1 from pg_database where datname = @name", connection);
                exists.Parameters.AddWithValue("name", name);
                if (await exists.ExecuteScalarAsync() is null)
                {
                    await using var create = new NpgsqlCommand($"create database \"{name}\"", connection);
                    await create.ExecuteNonQueryAsync();
                }
            }
            await PrepareAsync(connectionString);
            Created.Add(connectionString);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>
    /// What a deployment does before its first backend starts, on the database of <paramref name="superuser"/> (a
    /// superuser's connection, any cluster): the roles of scripts/db-roles.sql, then <c>resources setup</c> in its own
    /// process as the owner role, with <paramref name="settings"/> over the tests' base settings (a message schema, a
    /// production durability mode). Answers the application role's connection string, what the backend runs as.
    /// </summary>
    public static async Task<string> PrepareAsync(string superuser, IReadOnlyDictionary<string, string?>? settings = null)
    {
        await using (var connection = new NpgsqlConnection(superuser))
        {
            await connection.OpenAsync();
            var roles = await File.ReadAllTextAsync(Path.Combine(PantheonCli.RepositoryRoot(), "scripts", "db-roles.sql"));
            await using var command = new NpgsqlCommand(roles, connection);
            await command.ExecuteNonQueryAsync();
        }
        await SetupAsync(superuser, settings);
        return As(superuser, ApplicationRole);
    }

    /// <summary>A fresh database of its own with the two roles and nothing else (no <c>resources setup</c>): the superuser's.</summary>
    public static async Task<string> BareAsync(string name)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        var database = $"{builder.Database}_{name}";
        var admin = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres", Pooling = false }.ConnectionString;
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"drop database if exists \"{database}\" with (force)", connection);
            await drop.ExecuteNonQueryAsync();
            await using var create = new NpgsqlCommand($"create database \"{database}\"", connection);
            await create.ExecuteNonQueryAsync();
        }
        var superuser = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = database, Pooling = false }.ConnectionString;
        await using (var connection = new NpgsqlConnection(superuser))
        {
            await connection.OpenAsync();
            var roles = await File.ReadAllTextAsync(Path.Combine(PantheonCli.RepositoryRoot(), "scripts", "db-roles.sql"));
            await using var command = new NpgsqlCommand(roles, connection);
            await command.ExecuteNonQueryAsync();
        }
        return superuser;
    }

    private static readonly HashSet<(string Database, string Schema)> MessageSchemas = [];

    /// <summary>
    /// The Wolverine message schema <paramref name="schema"/> in the database of <paramref name="application"/>, made once
    /// per run by <c>resources setup</c> as the owner role: the application role, which test hosts run as, creates none.
    /// </summary>
    public static async Task EnsureMessageSchemaAsync(string application, string schema)
    {
        var database = new NpgsqlConnectionStringBuilder(application).Database!;
        await Gate.WaitAsync();
        try
        {
            if (MessageSchemas.Contains((database, schema))) return;
            await SetupAsync(AsSuperuser(application), new Dictionary<string, string?> { ["Durability:MessageSchema"] = schema });
            MessageSchemas.Add((database, schema));
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The operators' step before a backend starts: <c>resources setup</c>, in its own process, as the owner role.</summary>
    private static async Task SetupAsync(string connectionString, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = TestSettings.Base();
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>()) settings[key] = value;
        settings["ConnectionStrings:Marten"] = As(connectionString, ApplicationRole);
        settings["ConnectionStrings:MartenOwner"] = As(connectionString, OwnerRole);
        var (exit, output, error) = await PantheonCli.RunAsync(settings, "resources", "setup");
        if (exit != 0) throw new InvalidOperationException($"resources setup failed ({exit}):\n{output}\n{error}");
    }

    /// <summary>
    /// Every Marten table emptied and the event sequence restarted, as the owner role (the application role may not
    /// truncate), with the host's projection daemon paused meanwhile: what Marten's <c>ResetAllMartenDataAsync</c> does.
    /// </summary>
    public static async Task ResetAllPantheonDataAsync(this IHost host, string? connectionString = null)
    {
        var coordinator = host.Services.GetService<IProjectionCoordinator>();
        if (coordinator is not null) await coordinator.PauseAsync();
        await using (var connection = new NpgsqlConnection(As(connectionString ?? ConnectionString, OwnerRole)))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                do $$
                declare t record;
                begin
                    for t in select format('%I.%I', schemaname, tablename) as name from pg_tables
                             where schemaname = 'pantheon' and tablename like 'mt\_%' and tablename <> 'mt_event_projection_floors'
                    loop
                        execute 'truncate ' || t.name || ' cascade';
                    end loop;
                    alter sequence if exists pantheon.mt_events_sequence restart with 1;
                end $$;
                """, connection);
            await command.ExecuteNonQueryAsync();
        }
        if (coordinator is not null) await coordinator.ResumeAsync();
    }
}
