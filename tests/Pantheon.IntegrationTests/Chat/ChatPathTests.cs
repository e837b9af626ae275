using System.Text.Json;
using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>
/// What stands between a message and the provider's first token: the message's commit runs beside the call, and a user
/// without a budget holds nothing. Each guarantee the slower path gave still holds.
/// </summary>
[Collection(AppCollection.Name)]
public class ChatPathTests(AppFixture app)
{
    private FakeProvider Fake => app.Fake;

    private string Schema => app.Host.Services.GetRequiredService<IDocumentStore>().Options.DatabaseSchemaName;

    [Fact]
    public async Task the_provider_is_called_while_the_messages_commit_still_waits_and_the_reply_is_recorded_after_it()
    {
        Fake.Behavior = new FakeBehavior { Echo = true };
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var first = await Chat(token, "first");
        var conversation = first.GetProperty("conversation_id").GetGuid();

        // Hold the conversation's stream row: the next message's commit cannot finish until this transaction ends.
        await using var db = new NpgsqlConnection(TestDatabase.ConnectionString);
        await db.OpenAsync();
        await using var hold = await db.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"select version from {Schema}.mt_streams where id = @id for update", db, hold))
        {
            lockRow.Parameters.AddWithValue("id", conversation);
            (await lockRow.ExecuteScalarAsync()).ShouldNotBeNull();
        }
        var marker = $"sent while the commit waits {Guid.NewGuid():N}";
        var second = Chat(token, marker);
        await Eventually.Get(() => Task.FromResult(Fake.Requests.Any(r => LastMessage(r) == marker)), arrived => arrived,
            TimeSpan.FromSeconds(15), "the provider call to start before the message's commit");
        second.IsCompleted.ShouldBeFalse(); // the outcome waits for the message's commit
        await hold.RollbackAsync();

        (await second).GetProperty("reply").GetString().ShouldBe("echo: " + marker);
        var turns = await History(token);
        turns.Select(t => (t.GetProperty("role").GetString(), t.GetProperty("content").GetString(), t.GetProperty("status").GetString()))
            .ShouldBe([
                ("user", "first", "sent"), ("assistant", "echo: first", "complete"),
                ("user", marker, "sent"), ("assistant", "echo: " + marker, "complete"),
            ]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task a_message_whose_commit_fails_cancels_its_call_is_a_503_and_is_recorded_as_failed(bool stream)
    {
        // The provider would take a minute: only a cancelled call lets the request end before it.
        Fake.Behavior = new FakeBehavior { Delay = TimeSpan.FromSeconds(60) };
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var marker = $"refused once {Guid.NewGuid():N}";
        var name = $"fail_once_{Guid.NewGuid():N}";
        // PostgreSQL refuses the first commit of this message (a sequence is not rolled back, so the second one passes).
        await Sql($"""
            create sequence {Schema}.{name};
            grant usage on sequence {Schema}.{name} to {TestDatabase.ApplicationRole}; -- the backend's role runs the trigger
            create function {Schema}.{name}() returns trigger language plpgsql as $$
            begin
              if new.type = 'message_sent' and new.data ->> 'Content' = '{marker}' and nextval('{Schema}.{name}') = 1 then
                raise exception 'refused by the test';
              end if;
              return new;
            end $$;
            create trigger {name} before insert on {Schema}.mt_events for each row execute function {Schema}.{name}();
            """);
        try
        {
            var aborted = Fake.AbortedRequests;
            var result = await app.Host.Scenario(x =>
            {
                x.WithBearerToken(token);
                x.Post.Json(new { message = marker, model = "openrouter/x" }).ToUrl("/api/chat");
                if (stream) x.WithRequestHeader("Accept", "text/event-stream");
                x.StatusCodeShouldBe(503);
            });
            var problem = await result.ReadAsJsonAsync<JsonElement>();
            problem.GetProperty("title").GetString().ShouldBe("The message was not recorded");

            var turns = await History(token);
            turns.Select(t => (t.GetProperty("role").GetString(), t.GetProperty("status").GetString()))
                .ShouldBe([("user", "sent"), ("assistant", "failed")]);
            turns[0].GetProperty("content").GetString().ShouldBe(marker);
            // Whether or not the request reached the provider before the commit failed, none of it is left running.
            var reached = Fake.Requests.Count(r => LastMessage(r) == marker);
            await Eventually.Get(() => Task.FromResult(Fake.AbortedRequests - aborted), n => n == reached, TimeSpan.FromSeconds(15),
                "every call of the unrecorded message to be cancelled");
        }
        finally
        {
            Fake.Behavior = new FakeBehavior();
            await Sql($"drop trigger {name} on {Schema}.mt_events; drop function {Schema}.{name}(); drop sequence {Schema}.{name};");
        }
    }

    [Fact]
    public async Task a_user_without_a_budget_holds_nothing_while_a_turn_runs_and_is_charged_after_the_reply()
    {
        Fake.Behavior = new FakeBehavior { Echo = true };
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var conversation = (await Chat(token, "first")).GetProperty("conversation_id").GetGuid();

        // The second turn cannot finish while the conversation's stream row is held: look at the ledger meanwhile.
        await using var db = new NpgsqlConnection(TestDatabase.ConnectionString);
        await db.OpenAsync();
        await using var hold = await db.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"select version from {Schema}.mt_streams where id = @id for update", db, hold))
        {
            lockRow.Parameters.AddWithValue("id", conversation);
            (await lockRow.ExecuteScalarAsync()).ShouldNotBeNull();
        }
        var marker = $"unbudgeted {Guid.NewGuid():N}";
        var turn = Chat(token, marker);
        await Eventually.Get(() => Task.FromResult(Fake.Requests.Any(r => LastMessage(r) == marker)), arrived => arrived,
            TimeSpan.FromSeconds(15), "the provider call to start");
        var during = await app.Host.GetJson<JsonElement>("/api/user/budget", token);
        turn.IsCompleted.ShouldBeFalse();
        await hold.RollbackAsync();
        await turn;

        (during.GetProperty("source").GetString(), during.GetProperty("reserved").GetInt64()).ShouldBe(("none", 0L)); // nothing held
        // The first turn's 11 in and 7 out, and the second's too once its reply is in (it counts before its record commits).
        during.GetProperty("spent").GetInt64().ShouldBeOneOf(18L, 36L);
        var after = await app.Host.GetJson<JsonElement>("/api/user/budget", token);
        (after.GetProperty("spent").GetInt64(), after.GetProperty("reserved").GetInt64()).ShouldBe((36L, 0L));
    }

    private static string? LastMessage(RecordedRequest request) =>
        request.Body.ValueKind == JsonValueKind.Object && request.Body.TryGetProperty("messages", out var messages)
            ? messages.EnumerateArray().Last().GetProperty("content").GetString()
            : null;

    private async Task Sql(string sql)
    {
        await using var db = new NpgsqlConnection(TestDatabase.ConnectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<JsonElement> Chat(string token, string message) => await (await app.Host.Send(
        HttpMethod.Post, "/api/chat", token, new { message, model = "openrouter/x" })).ReadAsJsonAsync<JsonElement>();

    private async Task<List<JsonElement>> History(string token) =>
        (await app.Host.GetJson<JsonElement>("/api/chat/history?limit=500", token)).GetProperty("turns").EnumerateArray().ToList();
}
