using System.Text.Json;
using Alba;
using Marten;
using Marten.Events;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>What a chat turn records: who, under which correlation, in which order, and what it refuses.</summary>
[Collection(AppCollection.Name)]
public class ChatTurnTests(AppFixture app)
{
    private FakeProvider Fake => app.Fake;

    [Fact]
    public async Task a_users_audit_lists_their_chat_events_with_their_id_and_one_correlation_id_per_turn()
    {
        Fake.Behavior = new FakeBehavior();
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        var first = await Chat(token, new { message = "first", model = "openrouter/x" });
        await Chat(token, new { message = "second", model = "openrouter/x" });
        var conversation = first.GetProperty("conversation_id").GetGuid();

        // The audit log is built by the async daemon: drive it to the end of the log, then read with a deadline.
        (await app.Host.ForceAllMartenDaemonActivityToCatchUpAsync(CancellationToken.None)).ShouldBeEmpty();
        var entries = (await Eventually.Get(async () => new AuditEntries(await Audit(token, $"stream={conversation}")),
            e => e.Entries.Count == 6, TimeSpan.FromSeconds(30), "six chat events in the user's audit")).Entries;
        entries.ShouldAllBe(e => e.GetProperty("user_id").GetString() == user);
        var turns = entries.GroupBy(e => e.GetProperty("correlation_id").GetString()).ToList();
        turns.Count.ShouldBe(2);
        turns.ShouldAllBe(t => !string.IsNullOrEmpty(t.Key));
        foreach (var turn in turns)
            turn.Select(e => e.GetProperty("type").GetString()).ShouldBe(["message_sent", "reply_received", "usage_recorded"]);
    }

    [Theory]
    [InlineData("openai/gpt-4o", false)]
    [InlineData("anthropic/claude-3-5-sonnet-latest", false)]
    [InlineData("openai/gpt-4o", true)]
    public async Task a_reply_that_is_not_json_or_sse_is_a_502_naming_the_provider_and_recorded_as_failed(string model, bool stream)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var provider = model.Split('/')[0];
        await AddKey(token, provider, "sk-garbage-key-1234");
        Fake.Behavior = new FakeBehavior { Garbage = true };
        var result = await app.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Post.Json(new { message = "hi", model }).ToUrl("/api/chat");
            if (stream) x.WithRequestHeader("Accept", "text/event-stream");
            x.StatusCodeShouldBe(502);
        });
        Fake.Behavior = new FakeBehavior();
        var problem = await result.ReadAsJsonAsync<JsonElement>();
        problem.GetProperty("provider").GetString().ShouldBe(provider);
        problem.GetProperty("detail").GetString()!.ShouldContain($"{provider} sent a reply that is not valid JSON or SSE");

        var turns = await History(token);
        turns.Select(t => (t.GetProperty("role").GetString(), t.GetProperty("status").GetString()))
            .ShouldBe([("user", "sent"), ("assistant", "failed")]);
    }

    [Fact]
    public async Task eight_chats_at_once_to_one_conversation_are_all_accepted_and_each_reply_follows_its_own_message()
    {
        Fake.Behavior = new FakeBehavior { Echo = true, StreamChunkDelay = TimeSpan.FromMilliseconds(5) };
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var messages = Enumerable.Range(1, 8).Select(i => $"message {i}").ToList();
        var replies = await Task.WhenAll(messages.Select(async m =>
            await Chat(token, new { message = m, model = "openrouter/x" })));
        Fake.Behavior = new FakeBehavior();

        replies.Select(r => r.GetProperty("reply").GetString()).Order().ShouldBe(messages.Select(m => "echo: " + m).Order());
        var turns = await History(token);
        turns.Count.ShouldBe(16);
        turns.Where(t => t.GetProperty("role").GetString() == "user").Select(t => t.GetProperty("content").GetString()).Order()
            .ShouldBe(messages.Order());
        var byMessage = turns.GroupBy(t => t.GetProperty("message_id").GetGuid()).ToList();
        byMessage.Count.ShouldBe(8);
        foreach (var exchange in byMessage)
        {
            var (sent, reply) = (exchange.First(), exchange.Last());
            sent.GetProperty("role").GetString().ShouldBe("user");
            reply.GetProperty("role").GetString().ShouldBe("assistant");
            reply.GetProperty("content").GetString().ShouldBe("echo: " + sent.GetProperty("content").GetString());
        }
        var order = turns.Select(t => t.GetProperty("message_id").GetGuid()).ToList();
        byMessage.ShouldAllBe(g => order.IndexOf(g.Key) < order.LastIndexOf(g.Key)); // each reply after its message
    }

    [Fact]
    public async Task the_history_pages_with_limit_and_after_and_stays_right_after_a_clear()
    {
        Fake.Behavior = new FakeBehavior();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        foreach (var m in new[] { "one", "two", "three" }) await Chat(token, new { message = m, model = "openrouter/x" });

        var pages = await Pages(token, limit: 2);
        pages.Select(p => p.Count).ShouldBe([2, 2, 2]);
        pages.SelectMany(p => p).Where(t => t.GetProperty("role").GetString() == "user").Select(t => t.GetProperty("content").GetString())
            .ShouldBe(["one", "two", "three"]);

        await app.Host.Send(HttpMethod.Delete, "/api/chat/history", token, status: 204);
        (await Pages(token, limit: 2)).SelectMany(p => p).ShouldBeEmpty();
        await Chat(token, new { message = "four", model = "openrouter/x" });
        var after = (await Pages(token, limit: 1)).SelectMany(p => p).ToList();
        after.Select(t => t.GetProperty("content").GetString()).ShouldBe(["four", "Hello from the fake"]);

        await app.Host.Send(HttpMethod.Get, "/api/chat/history?limit=0", token, status: 400);
        await app.Host.Send(HttpMethod.Get, "/api/chat/history?limit=501", token, status: 400);
    }

    [Fact]
    public async Task only_allowlisted_model_parameters_reach_the_provider_and_any_other_is_a_400_field_error()
    {
        Fake.Behavior = new FakeBehavior();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        Fake.Requests.Clear();
        await Chat(token, new
        {
            message = "hi", model = "openrouter/x",
            model_parameters = new { top_p = 0.5, seed = 42, stop = new[] { "END" }, presence_penalty = 0.1, frequency_penalty = 0.2 },
        });
        var sent = Fake.Requests.ShouldHaveSingleItem().Body;
        sent.GetProperty("top_p").GetDouble().ShouldBe(0.5, 0.0001);
        sent.GetProperty("seed").GetInt64().ShouldBe(42);
        sent.GetProperty("stop")[0].GetString().ShouldBe("END");
        sent.GetProperty("presence_penalty").GetDouble().ShouldBe(0.1, 0.0001);
        sent.GetProperty("frequency_penalty").GetDouble().ShouldBe(0.2, 0.0001);

        await app.Host.ShouldRejectField(HttpMethod.Post, "/api/chat", token,
            """{"message":"hi","model_parameters":{"logit_bias":{"50256":-100}}}""", "model_parameters.logit_bias");
        await app.Host.ShouldRejectField(HttpMethod.Post, "/api/chat", token, """{"message":"hi","model_parameters":{"top_p":1.5}}""",
            "model_parameters.top_p");
        await app.Host.ShouldRejectField(HttpMethod.Put, "/api/user/settings", token, """{"model_parameters":{"top_k":5}}""",
            "model_parameters.top_k");
        await app.Host.ShouldRejectField(HttpMethod.Post, "/api/user/models", token,
            """{"model_id":"m","provider":"openai-compatible","endpoint":"https://models.example/v1","parameters":{"n":3}}""",
            "parameters.n");
        Fake.Requests.Count.ShouldBe(1);
    }

    [Fact]
    public async Task a_settings_change_of_one_parameter_keeps_the_others()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token,
            new { model_parameters = new { temperature = 0.9, max_tokens = 321, top_p = 0.8 } });
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token, new { model_parameters = new { temperature = 0.4 } });
        var parameters = (await app.Host.GetJson<JsonElement>("/api/user/settings", token)).GetProperty("model_parameters");
        parameters.GetProperty("temperature").GetDouble().ShouldBe(0.4);
        parameters.GetProperty("max_tokens").GetInt32().ShouldBe(321);
        parameters.GetProperty("top_p").GetDouble().ShouldBe(0.8);

        var fresh = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", fresh, new { model_parameters = new { temperature = 0.4 } });
        var kept = (await app.Host.GetJson<JsonElement>("/api/user/settings", fresh)).GetProperty("model_parameters");
        kept.GetProperty("max_tokens").GetInt32().ShouldBe(2000);
    }

    private sealed record AuditEntries(List<JsonElement> Entries)
    {
        public override string ToString() => $"{Entries.Count} entries: {string.Join(", ", Entries)}";
    }

    private async Task<List<List<JsonElement>>> Pages(string token, int limit)
    {
        var pages = new List<List<JsonElement>>();
        long? after = null;
        do
        {
            var cursor = after is null ? "" : $"&after={after}";
            var page = await app.Host.GetJson<JsonElement>($"/api/chat/history?limit={limit}{cursor}", token);
            pages.Add(page.GetProperty("turns").EnumerateArray().ToList());
            var next = page.GetProperty("next_after");
            after = next.ValueKind == JsonValueKind.Null ? null : next.GetInt64();
        } while (after is not null);
        return pages;
    }

    private async Task<List<JsonElement>> Audit(string token, string query) =>
        (await app.Host.GetJson<JsonElement>($"/api/audit?{query}", token)).GetProperty("entries").EnumerateArray().ToList();

    private async Task<Guid> AddKey(string token, string provider, string key)
    {
        var body = new { name = provider, provider, key };
        var result = await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token, body, status: 201);
        return (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<JsonElement> Chat(string token, object body) =>
        await (await app.Host.Send(HttpMethod.Post, "/api/chat", token, body)).ReadAsJsonAsync<JsonElement>();

    private async Task<List<JsonElement>> History(string token) =>
        (await app.Host.GetJson<JsonElement>("/api/chat/history?limit=500", token)).GetProperty("turns").EnumerateArray().ToList();
}
