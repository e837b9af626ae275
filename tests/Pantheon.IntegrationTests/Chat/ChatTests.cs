using Pantheon.TestSupport;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Alba;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;

namespace Pantheon.IntegrationTests.Chat;

[Collection(AppCollection.Name)]
public class ChatTests(AppFixture app)
{
    private FakeProvider Fake => app.Fake;

    public static TheoryData<string, string, string> Providers() => new()
    {
        { "openai/gpt-4o", "/v1/chat/completions", "gpt-4o" },
        { "openrouter/meta-llama/llama-3.1-70b-instruct", "/api/v1/chat/completions", "meta-llama/llama-3.1-70b-instruct" },
        { "gemini/gemini-1.5-pro", "/v1beta/openai/chat/completions", "gemini-1.5-pro" },
        { "anthropic/claude-3-5-sonnet-latest", "/v1/messages", "claude-3-5-sonnet-latest" },
    };

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task each_provider_gets_the_users_key_model_parameters_and_earlier_turns(string model, string path, string providerModel)
    {
        Fake.Behavior = new FakeBehavior { Reply = "First answer" };
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var provider = model.Split('/')[0];
        var key = $"sk-{provider}-user-key-{Guid.NewGuid():N}";
        await AddKey(token, provider, key);

        await Chat(token, new { message = "first question", model });
        Fake.Behavior = new FakeBehavior { Reply = "Second answer" };
        Fake.Requests.Clear();
        var reply = await Chat(token, new { message = "second question", model, model_parameters = new { temperature = 0.3, max_tokens = 123 } });

        reply.GetProperty("reply").GetString().ShouldBe("Second answer");
        reply.GetProperty("model").GetString().ShouldBe(model);
        reply.GetProperty("usage").GetProperty("input_tokens").GetInt64().ShouldBe(11);
        reply.GetProperty("usage").GetProperty("output_tokens").GetInt64().ShouldBe(7);

        var sent = Fake.Requests.ShouldHaveSingleItem();
        sent.Path.ShouldBe(path);
        if (provider == "anthropic")
        {
            sent.Headers["x-api-key"].ShouldBe(key);
            sent.Body.GetProperty("max_tokens").GetInt32().ShouldBe(123);
        }
        else
        {
            sent.Headers["authorization"].ShouldBe($"Bearer {key}");
            (sent.Body.TryGetProperty("max_completion_tokens", out var max) || sent.Body.TryGetProperty("max_tokens", out max)).ShouldBeTrue();
            max.GetInt32().ShouldBe(123);
        }
        sent.Body.GetProperty("model").GetString().ShouldBe(providerModel);
        sent.Body.GetProperty("temperature").GetDouble().ShouldBe(0.3, 0.0001);
        var turns = sent.Body.GetProperty("messages").EnumerateArray()
            .Select(m => (m.GetProperty("role").GetString(), Text(m.GetProperty("content")))).ToList();
        turns.ShouldBe([("user", "first question"), ("assistant", "First answer"), ("user", "second question")]);
    }

    [Fact]
    public async Task a_bare_model_id_goes_to_openrouter_with_the_system_key_when_the_user_has_none()
    {
        Fake.Behavior = new FakeBehavior();
        Fake.Requests.Clear();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await Chat(token, new { message = "hi", model = "mistralai/mixtral-8x7b" });
        var sent = Fake.Requests.ShouldHaveSingleItem();
        sent.Path.ShouldBe("/api/v1/chat/completions");
        sent.Body.GetProperty("model").GetString().ShouldBe("mistralai/mixtral-8x7b");
        sent.Headers["authorization"].ShouldBe($"Bearer {AppFixture.SystemOpenRouterKey}");
    }

    [Fact]
    public async Task the_newest_unrevoked_key_is_used_and_without_any_key_the_answer_is_422_naming_the_provider()
    {
        Fake.Behavior = new FakeBehavior();
        Fake.Requests.Clear();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var result = await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hi", model = "openai/gpt-4o" }, status: 422);
        (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("provider").GetString().ShouldBe("openai");
        Fake.Requests.ShouldBeEmpty();

        await AddKey(token, "openai", "sk-older-key-0001");
        var newer = await AddKey(token, "openai", "sk-newer-key-0002");
        Fake.Requests.Clear();
        await Chat(token, new { message = "hi", model = "openai/gpt-4o" });
        Fake.Requests.ShouldHaveSingleItem().Headers["authorization"].ShouldBe("Bearer sk-newer-key-0002");

        await app.Host.Send(HttpMethod.Delete, $"/api/user/api-keys/{newer}", token, status: 204);
        Fake.Requests.Clear();
        await Chat(token, new { message = "hi", model = "openai/gpt-4o" });
        Fake.Requests.ShouldHaveSingleItem().Headers["authorization"].ShouldBe("Bearer sk-older-key-0001");
    }

    [Fact]
    public async Task the_preferred_model_and_its_parameters_apply_when_the_request_names_none()
    {
        Fake.Behavior = new FakeBehavior();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await AddKey(token, "anthropic", "sk-ant-preferred-1");
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token,
            new { preferred_model = "anthropic/claude-3-haiku", model_parameters = new { temperature = 1.2, max_tokens = 50 } });
        Fake.Requests.Clear();
        var reply = await Chat(token, new { message = "hi", model_parameters = new { max_tokens = 60 } });
        reply.GetProperty("model").GetString().ShouldBe("anthropic/claude-3-haiku");
        var sent = Fake.Requests.ShouldHaveSingleItem().Body;
        sent.GetProperty("model").GetString().ShouldBe("claude-3-haiku");
        sent.GetProperty("temperature").GetDouble().ShouldBe(1.2, 0.0001);
        sent.GetProperty("max_tokens").GetInt32().ShouldBe(60);
    }

    public static TheoryData<string, int, int, string> Failures() => new()
    {
        { "openai/gpt-4o", 401, 502, "openai refused the API key" },
        { "anthropic/claude-3-5-sonnet-latest", 401, 502, "anthropic refused the API key" },
        { "openai/gpt-4o", 429, 429, "rate limiting" },
        { "anthropic/claude-3-5-sonnet-latest", 429, 429, "rate limiting" },
        { "openai/gpt-4o", 500, 502, "openai answered 500" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task provider_failures_are_clear_statuses_and_recorded_in_the_history(string model, int providerStatus, int status, string detail)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await AddKey(token, model.Split('/')[0], "sk-failing-key-1234");
        Fake.Behavior = new FakeBehavior { Status = providerStatus };
        var result = await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hi", model }, status: status);
        (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("detail").GetString()!.ShouldContain(detail);
        if (status == 429) result.Context.Response.Headers.RetryAfter.ToString().ShouldBe("7");
        Fake.Behavior = new FakeBehavior();

        var turns = await History(token);
        turns.Select(t => (t.GetProperty("role").GetString(), t.GetProperty("status").GetString())).ShouldBe([("user", "sent"), ("assistant", "failed")]);
    }

    [Fact]
    public async Task a_provider_that_does_not_answer_in_time_is_a_504()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await AddKey(token, "openai", "sk-slow-key-1234");
        Fake.Behavior = new FakeBehavior { Delay = TimeSpan.FromSeconds(10) };
        await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hi", model = "openai/gpt-4o" }, status: 504);
        Fake.Behavior = new FakeBehavior();
        (await History(token)).Last().GetProperty("status").GetString().ShouldBe("failed");
    }

    [Theory]
    [InlineData("openai/gpt-4o")]
    [InlineData("anthropic/claude-3-5-sonnet-latest")]
    public async Task a_streamed_reply_arrives_as_delta_events_then_done_with_usage(string model)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await AddKey(token, model.Split('/')[0], "sk-stream-key-1234");
        Fake.Behavior = new FakeBehavior { Reply = "one two three four" };
        using var response = await StreamChat(token, new { message = "count", model });
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        var events = ParseEvents(await response.Content.ReadAsStringAsync());

        string.Concat(events.Where(e => e.Name == "delta").Select(e => e.Data.GetProperty("text").GetString())).ShouldBe("one two three four");
        var done = events.Last();
        done.Name.ShouldBe("done");
        done.Data.GetProperty("usage").GetProperty("input_tokens").GetInt64().ShouldBe(11);
        done.Data.GetProperty("usage").GetProperty("output_tokens").GetInt64().ShouldBe(7);
        (await History(token)).Last().GetProperty("content").GetString().ShouldBe("one two three four");
    }

    [Fact]
    public async Task a_client_that_leaves_mid_stream_leaves_the_partial_reply_recorded_as_interrupted()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await AddKey(token, "openai", "sk-leaving-key-1234");
        Fake.Behavior = new FakeBehavior { Reply = string.Join(' ', Enumerable.Range(1, 40).Select(i => $"w{i}")), StreamChunkDelay = TimeSpan.FromMilliseconds(100) };
        using (var response = await StreamChat(token, new { message = "talk", model = "openai/gpt-4o" }))
        {
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line && !line.StartsWith("data:", StringComparison.Ordinal)) { }
        } // disposing the response aborts the request

        var last = await Eventually.Get(async () => (await History(token)).LastOrDefault(), t => t.ValueKind == JsonValueKind.Object && t.GetProperty("role").GetString() == "assistant",
            TimeSpan.FromSeconds(20), "the interrupted reply to be recorded");
        Fake.Behavior = new FakeBehavior();
        last.GetProperty("status").GetString().ShouldBe("interrupted");
        var partial = last.GetProperty("content").GetString()!;
        partial.ShouldStartWith("w1");
        partial.ShouldNotContain("w40");
    }

    [Fact]
    public async Task histories_are_per_user_and_project_and_clearing_one_leaves_the_others()
    {
        Fake.Behavior = new FakeBehavior();
        var alice = TestSettings.TokenFor(TestSettings.NewUser("alice"));
        var bob = TestSettings.TokenFor(TestSettings.NewUser("bob"));
        var project = await app.Host.Create(alice, "chatty");

        await Chat(alice, new { message = "general", model = "openrouter/x" });
        await Chat(alice, new { message = "about the project", model = "openrouter/x", project_id = project });
        await Chat(bob, new { message = "bob's", model = "openrouter/x" });

        (await History(alice)).First().GetProperty("content").GetString().ShouldBe("general");
        (await History(alice, project)).First().GetProperty("content").GetString().ShouldBe("about the project");
        (await History(bob)).Select(t => t.GetProperty("content").GetString()).ShouldBe(["bob's", "Hello from the fake"]);

        await app.Host.Send(HttpMethod.Get, $"/api/chat/history?project_id={project}", bob, status: 404);
        await app.Host.Send(HttpMethod.Post, "/api/chat", bob, new { message = "sneak", project_id = project }, status: 404);

        await app.Host.Send(HttpMethod.Delete, $"/api/chat/history?project_id={project}", alice, status: 204);
        (await History(alice, project)).ShouldBeEmpty();
        (await History(alice)).Count.ShouldBe(2);

        // A cleared conversation sends no earlier turns.
        Fake.Requests.Clear();
        await Chat(alice, new { message = "fresh start", model = "openrouter/x", project_id = project });
        Fake.Requests.ShouldHaveSingleItem().Body.GetProperty("messages").GetArrayLength().ShouldBe(1);
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project}", alice, status: 202);
        await app.Host.WaitUntilGone(alice, project);
    }

    [Fact]
    public async Task usage_sums_requests_and_tokens_by_provider_model_and_key()
    {
        Fake.Behavior = new FakeBehavior { InputTokens = 5, OutputTokens = 3 };
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var key = await AddKey(token, "openai", "sk-usage-key-1234");
        await Chat(token, new { message = "a", model = "openai/gpt-4o" });
        await Chat(token, new { message = "b", model = "openai/gpt-4o" });
        await Chat(token, new { message = "c", model = "openrouter/x" });
        Fake.Behavior = new FakeBehavior();

        var usage = await app.Host.GetJson<JsonElement>("/api/user/usage", token);
        usage.GetProperty("requests").GetInt64().ShouldBe(3);
        usage.GetProperty("total_tokens").GetInt64().ShouldBe(24);
        var byModel = usage.GetProperty("by_model").EnumerateArray().ToDictionary(l => l.GetProperty("model").GetString()!);
        byModel["openai/gpt-4o"].GetProperty("requests").GetInt64().ShouldBe(2);
        byModel["openai/gpt-4o"].GetProperty("input_tokens").GetInt64().ShouldBe(10);
        byModel["openrouter/x"].GetProperty("output_tokens").GetInt64().ShouldBe(3);
        var byKey = usage.GetProperty("by_key").EnumerateArray().ToList();
        byKey.Single(l => l.GetProperty("key_id").ValueKind == JsonValueKind.String).GetProperty("key_id").GetGuid().ShouldBe(key);
        byKey.Single(l => l.GetProperty("key_id").ValueKind == JsonValueKind.Null).GetProperty("requests").GetInt64().ShouldBe(1);

        (await app.Host.GetJson<JsonElement>("/api/user/usage", TestSettings.TokenFor(TestSettings.NewUser()))).GetProperty("requests").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task a_custom_model_routes_to_its_endpoint_with_its_key_and_can_be_removed()
    {
        Fake.Behavior = new FakeBehavior();
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var key = await AddKey(token, "openai", "sk-custom-endpoint-key");
        var created = await app.Host.Send(HttpMethod.Post, "/api/user/models", token, new
        {
            model_id = "my-llama", provider = "openai-compatible", endpoint = Fake.BaseUrl.ToString().TrimEnd('/') + "/v1", key_id = key,
            parameters = new { top_p = 0.5 },
        }, status: 201);
        var id = (await created.ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        var models = await app.Host.GetJson<JsonElement>("/api/models", token);
        var mine = models.EnumerateArray().Single(m => m.GetProperty("id").GetString() == "my-llama");
        mine.GetProperty("custom").GetBoolean().ShouldBeTrue();
        mine.GetProperty("has_key").GetBoolean().ShouldBeTrue();
        models.EnumerateArray().Single(m => m.GetProperty("id").GetString() == "openai/gpt-4o").GetProperty("has_key").GetBoolean().ShouldBeTrue();
        models.EnumerateArray().Single(m => m.GetProperty("id").GetString() == "gemini/gemini-1.5-pro").GetProperty("has_key").GetBoolean().ShouldBeFalse();

        Fake.Requests.Clear();
        await Chat(token, new { message = "hi", model = "my-llama" });
        var sent = Fake.Requests.ShouldHaveSingleItem();
        sent.Path.ShouldBe("/v1/chat/completions");
        sent.Headers["authorization"].ShouldBe("Bearer sk-custom-endpoint-key");
        sent.Body.GetProperty("model").GetString().ShouldBe("my-llama");
        sent.Body.TryGetProperty("top_p", out var topP).ShouldBeTrue(sent.Body.ToString());
        topP.GetDouble().ShouldBe(0.5);

        await app.Host.Send(HttpMethod.Delete, $"/api/user/models/{id}", TestSettings.TokenFor(TestSettings.NewUser()), status: 404);
        await app.Host.Send(HttpMethod.Delete, $"/api/user/models/{id}", token, status: 204);
        (await app.Host.GetJson<JsonElement>("/api/user/models", token)).GetProperty("items").GetArrayLength().ShouldBe(0);
        await app.Host.Send(HttpMethod.Delete, $"/api/user/models/{id}", token, status: 404);
    }

    [Theory]
    [InlineData("http://10.0.0.5/v1", "endpoint")]
    [InlineData("http://internal.example/v1", "endpoint")]
    [InlineData("ftp://127.0.0.1/v1", "endpoint")]
    [InlineData("not a url", "endpoint")]
    public async Task custom_endpoints_other_than_https_or_loopback_http_are_refused(string endpoint, string field)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var body = JsonSerializer.Serialize(new { model_id = "m", provider = "openai-compatible", endpoint });
        await app.Host.ShouldRejectField(HttpMethod.Post, "/api/user/models", token, body, field);
        (await app.Host.GetJson<JsonElement>("/api/user/models", token)).GetProperty("items").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task production_refuses_plain_http_even_to_loopback()
    {
        await using var production = await AppFixture.StartAsync(TestSettings.Production(), environment: "Production");
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var body = JsonSerializer.Serialize(new { model_id = "m", provider = "openai-compatible", endpoint = "http://127.0.0.1:9/v1" });
        await production.ShouldRejectField(HttpMethod.Post, "/api/user/models", token, body, "endpoint");
        await production.Send(HttpMethod.Post, "/api/user/models", token,
            new { model_id = "m", provider = "openai-compatible", endpoint = "https://models.example/v1" }, status: 201);
    }

    [Fact]
    public async Task a_custom_model_with_another_users_key_is_refused()
    {
        var alice = TestSettings.TokenFor(TestSettings.NewUser("alice"));
        var bobKey = await AddKey(TestSettings.TokenFor(TestSettings.NewUser("bob")), "openai", "sk-bobs-key-1234");
        var body = JsonSerializer.Serialize(new { model_id = "m", provider = "openai-compatible", endpoint = "https://models.example/v1", key_id = bobKey });
        await app.Host.ShouldRejectField(HttpMethod.Post, "/api/user/models", alice, body, "key_id");
    }

    private async Task<Guid> AddKey(string token, string provider, string key)
    {
        var result = await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token, new { name = provider, provider, key }, status: 201);
        return (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<JsonElement> Chat(string token, object body) =>
        await (await app.Host.Send(HttpMethod.Post, "/api/chat", token, body)).ReadAsJsonAsync<JsonElement>();

    private async Task<List<JsonElement>> History(string token, Guid? project = null) =>
        (await app.Host.GetJson<JsonElement>(project is null ? "/api/chat/history" : $"/api/chat/history?project_id={project}", token))
        .GetProperty("turns").EnumerateArray().ToList();

    private async Task<HttpResponseMessage> StreamChat(string token, object body)
    {
        var client = app.Host.Server.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat")
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        ((int)response.StatusCode).ShouldBe(200);
        return response;
    }

    private static List<(string Name, JsonElement Data)> ParseEvents(string text) =>
        text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n'))
            .Select(lines => (lines.Single(l => l.StartsWith("event: ")).Substring(7), JsonSerializer.Deserialize<JsonElement>(lines.Single(l => l.StartsWith("data: ")).Substring(6))))
            .ToList();

    private static string Text(JsonElement content) => content.ValueKind == JsonValueKind.String
        ? content.GetString()!
        : string.Concat(content.EnumerateArray().Select(p => p.GetProperty("text").GetString()));
}
