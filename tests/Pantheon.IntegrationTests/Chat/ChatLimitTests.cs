using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>A host whose <c>Chat</c> settings are small enough to reach in a test: each one is read by its name.</summary>
public sealed class ChatLimitsFixture : AppFixture
{
    public const string DefaultModel = "openrouter/limits-default-model";

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Chat:DefaultModel"] = DefaultModel;
        settings["Chat:MaxMessageCharacters"] = "50";
        settings["Chat:MaxReplyCharacters"] = "40";
        // Margins of a second or more around each limit: a loaded 2-core machine can hold a chunk back for most of one.
        settings["Chat:IdleTimeoutSeconds"] = "2";
        settings["Chat:MaxReplySeconds"] = "8";
        settings["Chat:HistoryBudgetCharacters"] = "40";
    }
}

[CollectionDefinition(Name)]
public sealed class ChatLimitsCollection : ICollectionFixture<ChatLimitsFixture>
{
    public const string Name = "chat-limits";
}

[Collection(ChatLimitsCollection.Name)]
public class ChatLimitTests(ChatLimitsFixture app)
{
    private FakeProvider Fake => app.Fake;

    [Fact]
    public async Task chat_default_model_is_the_model_a_new_user_gets()
    {
        Fake.Behavior = new FakeBehavior();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        (await app.Host.GetJson<JsonElement>("/api/user/settings", token)).GetProperty("preferred_model").GetString()
            .ShouldBe(ChatLimitsFixture.DefaultModel);
        Fake.Requests.Clear();
        var reply = await Chat(token, new { message = "hi" });
        reply.GetProperty("model").GetString().ShouldBe(ChatLimitsFixture.DefaultModel);
        Fake.Requests.ShouldHaveSingleItem().Body.GetProperty("model").GetString().ShouldBe("limits-default-model");
    }

    [Fact]
    public async Task a_message_over_the_size_limit_is_a_400_naming_the_limit()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var result = await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = new string('x', 51) }, status: 400);
        var errors = (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("errors");
        errors.GetProperty("message")[0].GetString()!.ShouldContain("Chat:MaxMessageCharacters");
        await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = new string('x', 50) });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task a_reply_over_the_size_limit_is_cut_recorded_as_truncated_and_its_connection_closed(bool stream)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var aborted = Fake.AbortedRequests;
        Fake.Behavior = new FakeBehavior
        {
            Reply = string.Join(' ', Enumerable.Range(1, 200).Select(i => $"word{i}")), StreamChunkDelay = TimeSpan.FromMilliseconds(20),
        };
        var result = await app.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Post.Json(new { message = "talk a lot" }).ToUrl("/api/chat");
            if (stream) x.WithRequestHeader("Accept", "text/event-stream");
        });
        Fake.Behavior = new FakeBehavior();
        var body = await result.ReadAsTextAsync();
        if (stream) body.ShouldContain("\"finish_reason\":\"truncated\"");
        else
        {
            var reply = JsonSerializer.Deserialize<JsonElement>(body);
            reply.GetProperty("reply").GetString()!.Length.ShouldBe(40);
            reply.GetProperty("finish_reason").GetString().ShouldBe("truncated");
        }
        var last = (await History(token)).Last();
        last.GetProperty("status").GetString().ShouldBe("truncated");
        last.GetProperty("content").GetString().ShouldBe("word1 word2 word3 word4 word5 word6 word");
        await Eventually.Get(() => Task.FromResult(Fake.AbortedRequests), n => n > aborted, TimeSpan.FromSeconds(10),
            "the provider's connection to be closed");
    }

    [Fact]
    public async Task a_provider_silent_between_chunks_past_the_idle_limit_is_a_504_naming_it()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        Fake.Behavior = new FakeBehavior { Reply = "slow words", StreamChunkDelay = TimeSpan.FromSeconds(4) };
        var result = await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hi" }, status: 504);
        Fake.Behavior = new FakeBehavior();
        (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("limit").GetString().ShouldBe("Chat:IdleTimeoutSeconds");
        (await History(token)).Last().GetProperty("status").GetString().ShouldBe("failed");
    }

    [Fact]
    public async Task a_reply_that_takes_longer_than_the_total_limit_is_a_504_naming_it()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        // 16 chunks 0.8 s apart: each gap well inside the idle limit, the whole past the total limit.
        Fake.Behavior = new FakeBehavior { Reply = "a b c d e f g h i j k l m n o p", StreamChunkDelay = TimeSpan.FromMilliseconds(800) };
        var result = await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hi" }, status: 504);
        Fake.Behavior = new FakeBehavior();
        (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("limit").GetString().ShouldBe("Chat:MaxReplySeconds");
    }

    [Fact]
    public async Task only_the_newest_turns_that_fit_the_history_budget_go_with_a_message()
    {
        Fake.Behavior = new FakeBehavior();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await Chat(token, new { message = "aaaaaaaaaa" });
        await Chat(token, new { message = "bbbbbbbbbb" });
        Fake.Requests.Clear();
        await Chat(token, new { message = "cccccccccc" });
        // 40 characters: the last reply (19) and the message before it (10) fit; the first reply would not.
        var sent = Fake.Requests.ShouldHaveSingleItem().Body.GetProperty("messages").EnumerateArray()
            .Select(m => Text(m.GetProperty("content"))).ToList();
        sent.ShouldBe(["bbbbbbbbbb", "Hello from the fake", "cccccccccc"]);
    }

    private static string Text(JsonElement content) => content.ValueKind == JsonValueKind.String
        ? content.GetString()!
        : string.Concat(content.EnumerateArray().Select(p => p.GetProperty("text").GetString()));

    private async Task<JsonElement> Chat(string token, object body) =>
        await (await app.Host.Send(HttpMethod.Post, "/api/chat", token, body)).ReadAsJsonAsync<JsonElement>();

    private async Task<List<JsonElement>> History(string token) =>
        (await app.Host.GetJson<JsonElement>("/api/chat/history", token)).GetProperty("turns").EnumerateArray().ToList();
}
