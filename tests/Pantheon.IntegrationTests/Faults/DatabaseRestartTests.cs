using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using Pantheon.Handlers.Infrastructure;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;
using Xunit.Abstractions;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>Two backend processes on a PostgreSQL cluster of the tests' own, which the tests restart and cut off.</summary>
public sealed class RestartableCluster : IAsyncLifetime
{
    public PrivatePostgres Postgres { get; private set; } = null!;
    public FakeProvider Fake { get; private set; } = null!;
    public BackendProcess A { get; private set; } = null!;
    public BackendProcess B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Postgres = await PrivatePostgres.StartAsync();
        Fake = await FakeProvider.StartAsync();
        var settings = TestSettings.Production();
        // As production: the roles and the owner role's `resources setup` first; the backends run as the application role.
        settings["ConnectionStrings:Marten"] = await TestDatabase.PrepareAsync(Postgres.ConnectionString);
        settings["ConnectionStrings:MartenOwner"] = TestDatabase.As(Postgres.ConnectionString, TestDatabase.OwnerRole);
        settings["Chat:BaseUrls:openai"] = Fake.BaseUrl.ToString().TrimEnd('/') + "/v1";
        A = await TestBackend.StartAsync(settings);
        B = await TestBackend.StartAsync(settings);
    }

    /// <summary>Kills every backend's notification connection (the old listeners' too, found by their <c>listen</c>).</summary>
    public async Task<int> KillNotificationConnectionsAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres.TestConnectionString);
        await connection.OpenAsync();
        await using var kill = new NpgsqlCommand("""
            select count(pg_terminate_backend(pid)) from pg_stat_activity
            where pid <> pg_backend_pid() and (application_name = $1 or query ilike 'listen %')
            """, connection) { Parameters = { new NpgsqlParameter { Value = PostgresNotifications.ApplicationName } } };
        return (int)(long)(await kill.ExecuteScalarAsync())!;
    }

    public async Task<long> NotificationConnectionsAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres.TestConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("select count(*) from pg_stat_activity where application_name = $1", connection)
        {
            Parameters = { new NpgsqlParameter { Value = PostgresNotifications.ApplicationName } },
        };
        return (long)(await count.ExecuteScalarAsync())!;
    }

    /// <summary>The project's events as stored, in sequence order: type and commit time.</summary>
    public async Task<List<(long Sequence, string Type, DateTimeOffset At)>> EventsOf(Guid project)
    {
        await using var connection = new NpgsqlConnection(Postgres.TestConnectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand(
            "select seq_id, type, timestamp from pantheon.mt_events where stream_id = $1 order by seq_id", connection)
        {
            Parameters = { new NpgsqlParameter { Value = project } },
        };
        var events = new List<(long, string, DateTimeOffset)>();
        await using var reader = await read.ExecuteReaderAsync();
        while (await reader.ReadAsync()) events.Add((reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2)));
        return events;
    }

    public async Task DisposeAsync()
    {
        await B.DisposeAsync();
        await A.DisposeAsync();
        await Fake.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}

/// <summary>
/// PostgreSQL restarts and lost notification connections under clients subscribed on <c>/ws</c>: notifications are only a
/// hint, the hub reads the event log from the last sequence it delivered, so no update is lost, none comes twice, and
/// they come in order. The chat setup cache, the other user of the notification connection, serves nothing stale.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class DatabaseRestartTests(RestartableCluster cluster, ITestOutputHelper output) : IClassFixture<RestartableCluster>
{
    private static readonly TimeSpan Provisioning = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task updates_committed_while_the_notification_connection_is_down_still_reach_ws()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await using var socket = await SocketClient.SubscribeAsync(cluster.A, token);
        using var b = new NodeClient(cluster.B, token);

        (await cluster.KillNotificationConnectionsAsync()).ShouldBeGreaterThan(0);
        var project = (await b.Json(HttpMethod.Post, "/api/projects", new { name = "while-deaf" }, 202)).GetProperty("id").GetGuid();

        var updates = await socket.UpdatesUntil(project, "ready", Provisioning);
        await ShouldMatchTheLog(project, updates);
        await Eventually.Get(cluster.NotificationConnectionsAsync, n => n == 2, TimeSpan.FromSeconds(30), "both listeners to reconnect");
        await Delete(b, project);
    }

    [Fact]
    public async Task ws_clients_miss_no_project_update_when_postgresql_restarts_mid_provisioning()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await using var socket = await SocketClient.SubscribeAsync(cluster.A, token);
        using var a = new NodeClient(cluster.A, token);
        var project = (await a.Json(HttpMethod.Post, "/api/projects", new { name = "restarted" }, 202)).GetProperty("id").GetGuid();
        var updates = await socket.UpdatesUntil(project, "requested", Provisioning);

        var outage = Stopwatch.StartNew();
        await cluster.Postgres.StopAsync();
        var stopped = outage.Elapsed;
        await cluster.Postgres.StartServerAsync();
        var backAt = DateTimeOffset.UtcNow;
        output.WriteLine($"PostgreSQL stopped in {stopped.TotalMilliseconds:0} ms, "
            + $"accepting connections again after {outage.Elapsed.TotalMilliseconds:0} ms");

        await Eventually.Get(() => a.StatusOf(project), s => s is "ready" or "failed", Provisioning, "the project to finish provisioning");
        (await a.StatusOf(project)).ShouldBe("ready");
        await socket.UpdatesUntil(project, "ready", TimeSpan.FromSeconds(60), updates);

        var log = await ShouldMatchTheLog(project, updates);
        var after = updates.Zip(log).Where(p => p.Second.At >= backAt).ToList();
        output.WriteLine($"{log.Count} updates, {after.Count} committed after the restart; first on /ws "
            + $"{(after.Count > 0 ? $"{(after[0].First.At - backAt).TotalMilliseconds:0} ms" : "n/a")} after PostgreSQL was back");
        foreach (var (received, stored) in updates.Zip(log))
            output.WriteLine($"  #{stored.Sequence} {stored.Type}: committed {stored.At:HH:mm:ss.fff}, on /ws {received.At:HH:mm:ss.fff} "
                + $"({(received.At - stored.At).TotalMilliseconds:0} ms later)");
        await Eventually.Get(cluster.NotificationConnectionsAsync, n => n == 2, TimeSpan.FromSeconds(30), "both listeners to reconnect");
        await Delete(a, project);
    }

    [Fact]
    public async Task a_settings_change_made_while_the_notification_connection_is_down_is_not_served_stale()
    {
        cluster.Fake.Behavior = new FakeBehavior();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        using var a = new NodeClient(cluster.A, token);
        using var b = new NodeClient(cluster.B, token);
        await a.Json(HttpMethod.Post, "/api/user/api-keys", new { name = "k", provider = "openai", key = "sk-restart-test-0000" }, 201);
        await a.Json(HttpMethod.Put, "/api/user/settings", new { preferred_model = "openai/gpt-4o" });
        await a.Json(HttpMethod.Post, "/api/chat", new { message = "hi" });
        ModelOfLastRequest().ShouldBe("gpt-4o");

        (await cluster.KillNotificationConnectionsAsync()).ShouldBeGreaterThan(0);
        await a.Json(HttpMethod.Post, "/api/chat", new { message = "still there?" }); // read (and perhaps kept) while A is deaf
        await b.Json(HttpMethod.Put, "/api/user/settings", new { preferred_model = "openai/gpt-4o-mini" }); // A misses its notification
        await a.Json(HttpMethod.Post, "/api/chat", new { message = "and now?" });
        ModelOfLastRequest().ShouldBe("gpt-4o-mini");
        await Eventually.Get(cluster.NotificationConnectionsAsync, n => n == 2, TimeSpan.FromSeconds(30), "both listeners to reconnect");
    }

    private string? ModelOfLastRequest() => cluster.Fake.Requests.Last().Body.GetProperty("model").GetString();

    /// <summary>What the socket got is the project's log: every update, in order, none twice.</summary>
    private async Task<List<(long Sequence, string Type, DateTimeOffset At)>> ShouldMatchTheLog(Guid project, List<Received> updates)
    {
        var log = await cluster.EventsOf(project);
        updates.Select(u => u.Message.GetProperty("event").GetString()).ShouldBe(log.Select(e => e.Type),
            $"the socket got: {string.Join(", ", updates.Select(u => u.Message))}");
        updates.Select(u => u.Message.GetProperty("sequence").GetInt64()).ShouldBe(log.Select(e => e.Sequence));
        return log;
    }

    private static async Task Delete(NodeClient client, Guid project)
    {
        using (var response = await client.Send(HttpMethod.Delete, $"/api/projects/{project}")) ((int)response.StatusCode).ShouldBe(202);
        await Eventually.Get(async () =>
        {
            using var response = await client.Send(HttpMethod.Get, $"/api/projects/{project}");
            return (int)response.StatusCode;
        }, status => status == 404, TimeSpan.FromSeconds(60), "the project to be gone");
    }
}
