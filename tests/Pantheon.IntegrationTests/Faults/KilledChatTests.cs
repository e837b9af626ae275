using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;
using Pantheon.Web.Auth;
using Xunit.Abstractions;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>
/// A backend killed (SIGKILL) while it streams replies: once past <c>Chat:MaxReplySeconds</c> plus the margin, the
/// sweepers of the restarted node and of a second node record each abandoned turn as interrupted exactly once, with its
/// correlation id and user, give back its budget hold, and leave a turn streaming on the live node alone.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class KilledChatTests(ITestOutputHelper output)
{
    private const int MaxReplySeconds = 10, MarginSeconds = 2;

    [Fact]
    public async Task turns_of_a_node_killed_mid_stream_are_recorded_interrupted_once_and_their_holds_released()
    {
        var database = await TestDatabase.OwnAsync("faults_chat");
        await using var fake = await FakeProvider.StartAsync();
        // Replies of A's turns would stream for 40 s: A is killed long before they end.
        fake.Behavior = Streaming(words: 400);
        var settings = TestSettings.Production();
        settings["ConnectionStrings:Marten"] = database;
        settings["Chat:BaseUrls:openai"] = fake.BaseUrl.ToString().TrimEnd('/') + "/v1";
        settings["Chat:MaxReplySeconds"] = $"{MaxReplySeconds}";
        settings["Chat:AbandonedTurnMarginSeconds"] = $"{MarginSeconds}";
        settings["Chat:AbandonedTurnSweepSeconds"] = "1";
        await using var a = await TestBackend.StartAsync(settings);
        await using var b = await TestBackend.StartAsync(settings);

        var killed = Enumerable.Range(0, 3).Select(_ => TestSettings.NewUser("killed")).ToList();
        var live = TestSettings.NewUser("live");
        foreach (var user in killed.Append(live))
        {
            using var client = new NodeClient(a, TestSettings.TokenFor(user));
            await client.Json(HttpMethod.Post, "/api/user/api-keys", new { name = "k", provider = "openai", key = "sk-killed-0000" }, 201);
            // A budget in force, so each turn holds part of it (a user without one holds nothing while a reply streams).
            using var admin = new NodeClient(a, TestSettings.TokenFor(TestSettings.NewUser("operator"), roles: AuthSettings.AdminRole));
            await admin.Json(HttpMethod.Put, $"/api/admin/budgets/{user}", new { monthly_tokens = 1_000_000 });
        }

        // Three replies streaming on A, each past its first words, each holding part of its user's budget.
        var streams = new List<(HttpClient Http, Stream Body)>();
        foreach (var user in killed) streams.Add(await StartStreaming(a, user));
        foreach (var user in killed) (await Budget(b, user)).GetProperty("reserved").GetInt64().ShouldBeGreaterThan(0);

        a.Kill();
        var killedAt = Stopwatch.StartNew();
        foreach (var (http, body) in streams)
        {
            body.Dispose();
            http.Dispose();
        }

        // A turn streaming on the live node B (about 3 s, inside the limit) while its sweeper runs every second, then A's at start-up.
        fake.Behavior = Streaming(words: 30);
        var (liveHttp, liveBody) = await StartStreaming(b, live);
        var liveReply = new StreamReader(liveBody).ReadToEndAsync();
        await a.RestartAsync();
        var restartedAfter = killedAt.Elapsed;
        (await liveReply).ShouldContain("event: done");
        liveBody.Dispose();
        liveHttp.Dispose();

        foreach (var user in killed)
        {
            using var client = new NodeClient(b, TestSettings.TokenFor(user));
            await Eventually.Get(() => client.Json(HttpMethod.Get, "/api/chat/history"),
                h => h.GetProperty("turns").EnumerateArray().Any(t => t.GetProperty("role").GetString() == "assistant"),
                TimeSpan.FromSeconds(MaxReplySeconds + MarginSeconds + 60), $"the turn of {user} to be closed");
        }
        var closedAfter = killedAt.Elapsed;
        output.WriteLine($"node A restarted {restartedAfter.TotalSeconds:0.0} s after the kill; all {killed.Count} abandoned turns "
            + $"closed {closedAfter.TotalSeconds:0.0} s after the kill (limit {MaxReplySeconds} s + margin {MarginSeconds} s after each "
            + "message, sweeps every 1 s on both nodes)");
        await PrintSweeps(database);

        foreach (var user in killed)
        {
            using var client = new NodeClient(b, TestSettings.TokenFor(user));
            var turns = (await client.Json(HttpMethod.Get, "/api/chat/history")).GetProperty("turns").EnumerateArray().ToList();
            turns.Select(t => (t.GetProperty("role").GetString(), t.GetProperty("status").GetString()))
                .ShouldBe([("user", "sent"), ("assistant", "interrupted")]);
            (await Budget(b, user)).GetProperty("reserved").GetInt64().ShouldBe(0);

            var events = await EventsOf(database, user);
            events.Select(e => e.Type).ShouldBe(["message_sent", "reply_interrupted"]); // exactly once, by one of the sweepers
            events[1].CorrelationId.ShouldBe(events[0].CorrelationId);
            events[1].CorrelationId.ShouldNotBeNullOrEmpty();
            events[1].UserName.ShouldBe(user);

            var audit = await Eventually.Get(() => client.Json(HttpMethod.Get, "/api/audit?type=reply_interrupted"),
                page => page.GetProperty("entries").GetArrayLength() > 0, TimeSpan.FromSeconds(60), $"the audit of {user} to show it");
            var entry = audit.GetProperty("entries").EnumerateArray().Single();
            entry.GetProperty("correlation_id").GetString().ShouldBe(events[0].CorrelationId);
            entry.GetProperty("summary").GetString()!.ShouldContain("interrupted");
        }

        using (var client = new NodeClient(b, TestSettings.TokenFor(live)))
        {
            var turns = (await client.Json(HttpMethod.Get, "/api/chat/history")).GetProperty("turns").EnumerateArray().ToList();
            turns.Select(t => t.GetProperty("status").GetString()).ShouldBe(["sent", "complete"]);
            (await EventsOf(database, live)).Select(e => e.Type).ShouldBe(["message_sent", "reply_received", "usage_recorded"]);
        }
    }

    private static FakeBehavior Streaming(int words) => new()
    {
        Reply = string.Join(' ', Enumerable.Range(1, words).Select(i => $"word{i}")), StreamChunkDelay = TimeSpan.FromMilliseconds(100),
    };

    /// <summary>Sends a streamed chat and reads it up to its first words: the reply is then in the middle of streaming.</summary>
    private static async Task<(HttpClient Http, Stream Body)> StartStreaming(BackendProcess node, string user)
    {
        var http = new HttpClient { BaseAddress = node.Url, Timeout = Timeout.InfiniteTimeSpan };
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat")
        {
            Content = JsonContent.Create(new { message = "a long story", model = "openai/gpt-4o" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestSettings.TokenFor(user));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        ((int)response.StatusCode).ShouldBe(200);
        var body = await response.Content.ReadAsStreamAsync();
        var first = new byte[16];
        (await body.ReadAsync(first)).ShouldBeGreaterThan(0); // headers go out with the first words
        return (http, body);
    }

    private static async Task<JsonElement> Budget(BackendProcess node, string user)
    {
        using var client = new NodeClient(node, TestSettings.TokenFor(user));
        return await client.Json(HttpMethod.Get, "/api/user/budget");
    }

    private sealed record StoredEvent(string Type, string? CorrelationId, string? UserName, DateTimeOffset At);

    private static async Task<List<StoredEvent>> EventsOf(string database, string user)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand("""
            select type, correlation_id, user_name, timestamp from pantheon.mt_events
            where stream_id = (select stream_id from pantheon.mt_events where type = 'message_sent' and user_name = $1 limit 1)
            order by seq_id
            """, connection) { Parameters = { new NpgsqlParameter { Value = user } } };
        var events = new List<StoredEvent>();
        await using var reader = await read.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            events.Add(new StoredEvent(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        return events;
    }

    /// <summary>How late each interruption was recorded after its message became abandoned (the limit plus the margin).</summary>
    private async Task PrintSweeps(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand("""
            select i.timestamp - s.timestamp from pantheon.mt_events i
            join pantheon.mt_events s on s.stream_id = i.stream_id and s.type = 'message_sent'
             and s.data ->> 'MessageId' = i.data ->> 'MessageId'
            where i.type = 'reply_interrupted' and i.timestamp > now() - interval '10 minutes'
            """, connection);
        await using var reader = await read.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            output.WriteLine($"  interrupted {reader.GetFieldValue<TimeSpan>(0).TotalSeconds:0.00} s after its message "
                + $"(abandoned at {MaxReplySeconds + MarginSeconds} s)");
    }
}
