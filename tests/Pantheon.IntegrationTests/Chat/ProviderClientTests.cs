using Pantheon.TestSupport;
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using Pantheon.Handlers.Chat;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>The real provider clients (OpenAI SDK via M.E.AI, our Anthropic client) against the loopback fake provider.</summary>
public class ProviderClientTests
{
    private static readonly HttpClient Http = new();

    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "Be brief."),
        new(ChatRole.User, "Hi"),
        new(ChatRole.Assistant, "Hello."),
        new(ChatRole.User, "Say hello"),
    ];

    private static readonly ChatOptions Options = new() { Temperature = 0.5f, MaxOutputTokens = 100 };

    private static IChatClient OpenAi(FakeProvider fake, string basePath = "v1") =>
        new OpenAIClient(new ApiKeyCredential("key"), new OpenAIClientOptions
        {
            Endpoint = new Uri(fake.BaseUrl, basePath),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // otherwise 429 is retried after Retry-After: 7
        }).GetChatClient("gpt-4o").AsIChatClient();

    private static AnthropicChatClient Anthropic(FakeProvider fake) => new(Http, fake.BaseUrl, "ant-key", "claude-test");

    [Theory]
    [InlineData("v1", "/v1/chat/completions")] // OpenAI, and most compatible APIs
    [InlineData("api/v1", "/api/v1/chat/completions")] // OpenRouter
    [InlineData("v1beta/openai", "/v1beta/openai/chat/completions")] // Gemini
    public async Task openai_client_completes_against_the_fake(string basePath, string expectedPath)
    {
        await using var fake = await FakeProvider.StartAsync();
        var response = await OpenAi(fake, basePath).GetResponseAsync(Conversation, Options);

        response.Text.ShouldBe("Hello from the fake");
        response.FinishReason.ShouldBe(ChatFinishReason.Stop);
        response.ModelId.ShouldBe("gpt-4o");
        response.Usage!.InputTokenCount.ShouldBe(11);
        response.Usage.OutputTokenCount.ShouldBe(7);
        response.Usage.TotalTokenCount.ShouldBe(18);

        fake.Requests.TryDequeue(out var request).ShouldBeTrue();
        request.Path.ShouldBe(expectedPath);
        request.Headers["authorization"].ShouldBe("Bearer key");
        request.Body.GetProperty("model").GetString().ShouldBe("gpt-4o");
        request.Body.GetProperty("temperature").GetDouble().ShouldBe(0.5);
        request.Body.GetProperty("max_completion_tokens").GetInt32().ShouldBe(100); // the SDK never sends max_tokens
        request.Body.TryGetProperty("max_tokens", out _).ShouldBeFalse();
        request.Body.TryGetProperty("stream", out _).ShouldBeFalse();
        Messages(request.Body).ShouldBe(["system:Be brief.", "user:Hi", "assistant:Hello.", "user:Say hello"]);
    }

    [Fact]
    public async Task openai_client_streams_text_and_usage()
    {
        await using var fake = await FakeProvider.StartAsync();
        var updates = await OpenAi(fake).GetStreamingResponseAsync(Conversation, Options).ToListAsync();

        string.Concat(updates.Select(u => u.Text)).ShouldBe("Hello from the fake");
        updates.Count(u => u.Text.Length > 0).ShouldBe(4);
        updates.ShouldContain(u => u.FinishReason == ChatFinishReason.Stop);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;
        usage.InputTokenCount.ShouldBe(11);
        usage.OutputTokenCount.ShouldBe(7);
        usage.TotalTokenCount.ShouldBe(18);
        updates.ToChatResponse().Usage!.TotalTokenCount.ShouldBe(18);

        fake.Requests.TryDequeue(out var request).ShouldBeTrue();
        request.Body.GetProperty("stream").GetBoolean().ShouldBeTrue();
        request.Body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean().ShouldBeTrue(); // the SDK asks by itself
    }

    [Fact]
    public async Task openai_client_surfaces_401_and_429_as_client_result_exceptions()
    {
        await using var fake = await FakeProvider.StartAsync();
        var client = OpenAi(fake);

        fake.Behavior = new FakeBehavior { Status = 401 };
        var unauthorized = await Should.ThrowAsync<ClientResultException>(() => client.GetResponseAsync("Hi"));
        unauthorized.Status.ShouldBe(401);
        unauthorized.Message.ShouldContain("Incorrect API key provided");

        fake.Behavior = new FakeBehavior { Status = 429 };
        var limited = await Should.ThrowAsync<ClientResultException>(() => client.GetStreamingResponseAsync("Hi").ToListAsync().AsTask());
        limited.Status.ShouldBe(429);
        limited.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var retryAfter).ShouldBeTrue();
        retryAfter.ShouldBe("7");
        fake.Requests.Count.ShouldBe(2); // no hidden retries
    }

    [Fact]
    public async Task anthropic_client_completes_against_the_fake()
    {
        await using var fake = await FakeProvider.StartAsync();
        var options = new ChatOptions
        {
            Temperature = 0.5f, TopP = 0.9f, MaxOutputTokens = 100,
            AdditionalProperties = new() { ["top_k"] = 5, ["metadata"] = JsonSerializer.SerializeToElement(new { user_id = "u1" }) },
        };
        var response = await Anthropic(fake).GetResponseAsync([new(ChatRole.System, "Rule one."), .. Conversation], options);

        response.Text.ShouldBe("Hello from the fake");
        response.FinishReason.ShouldBe(ChatFinishReason.Stop);
        response.ModelId.ShouldBe("claude-test");
        response.ResponseId.ShouldStartWith("msg_");
        response.Usage!.InputTokenCount.ShouldBe(11);
        response.Usage.OutputTokenCount.ShouldBe(7);
        response.Usage.TotalTokenCount.ShouldBe(18);

        fake.Requests.TryDequeue(out var request).ShouldBeTrue();
        request.Path.ShouldBe("/v1/messages");
        request.Headers["x-api-key"].ShouldBe("ant-key");
        request.Headers["anthropic-version"].ShouldBe("2023-06-01");
        request.Headers["content-type"].ShouldBe("application/json");
        request.Headers.ShouldNotContainKey("authorization");
        var body = request.Body;
        body.GetProperty("model").GetString().ShouldBe("claude-test");
        body.GetProperty("max_tokens").GetInt32().ShouldBe(100);
        body.GetProperty("temperature").GetDouble().ShouldBe(0.5);
        body.GetProperty("top_p").GetDouble().ShouldBe(0.9, 1e-6);
        body.GetProperty("system").GetString().ShouldBe("Rule one.\n\nBe brief.");
        body.GetProperty("top_k").GetInt32().ShouldBe(5);
        body.GetProperty("metadata").GetProperty("user_id").GetString().ShouldBe("u1");
        body.TryGetProperty("stream", out _).ShouldBeFalse();
        Messages(body).ShouldBe(["user:Hi", "assistant:Hello.", "user:Say hello"]);
    }

    [Fact]
    public async Task anthropic_client_defaults_max_tokens()
    {
        await using var fake = await FakeProvider.StartAsync();
        await Anthropic(fake).GetResponseAsync("Hi");
        fake.Requests.TryDequeue(out var request).ShouldBeTrue();
        request.Body.GetProperty("max_tokens").GetInt32().ShouldBe(1024);
        request.Body.TryGetProperty("system", out _).ShouldBeFalse();
        request.Body.TryGetProperty("temperature", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task anthropic_client_streams_text_usage_and_finish_reason()
    {
        await using var fake = await FakeProvider.StartAsync();
        var updates = await Anthropic(fake).GetStreamingResponseAsync(Conversation, Options).ToListAsync();

        updates.Where(u => u.Text.Length > 0).Select(u => u.Text).ShouldBe(["Hello ", "from ", "the ", "fake"]);
        var last = updates[^1];
        last.FinishReason.ShouldBe(ChatFinishReason.Stop);
        var usage = last.Contents.OfType<UsageContent>().Single().Details;
        (usage.InputTokenCount, usage.OutputTokenCount, usage.TotalTokenCount).ShouldBe((11L, 7L, 18L));
        updates.ShouldAllBe(u => u.ModelId == "claude-test");

        var response = updates.ToChatResponse();
        response.Text.ShouldBe("Hello from the fake");
        response.Usage!.TotalTokenCount.ShouldBe(18);

        fake.Requests.TryDequeue(out var request).ShouldBeTrue();
        request.Body.GetProperty("stream").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task anthropic_client_throws_provider_http_exception_with_the_providers_message()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.Behavior = new FakeBehavior { Status = 401 };
        var unauthorized = await Should.ThrowAsync<ProviderHttpException>(() => Anthropic(fake).GetResponseAsync("Hi"));
        unauthorized.Status.ShouldBe(401);
        unauthorized.Message.ShouldBe("invalid x-api-key");
        unauthorized.RetryAfter.ShouldBeNull();

        fake.Behavior = new FakeBehavior { Status = 429 };
        var limited = await Should.ThrowAsync<ProviderHttpException>(() => Anthropic(fake).GetStreamingResponseAsync("Hi").ToListAsync().AsTask());
        limited.Status.ShouldBe(429);
        limited.RetryAfter.ShouldBe(TimeSpan.FromSeconds(7));
    }

    [Fact]
    public async Task cancelling_a_slow_call_stops_the_client_and_the_fake_survives()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.Behavior = new FakeBehavior { Delay = TimeSpan.FromSeconds(10) };
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var error = await Record.ExceptionAsync(() => Anthropic(fake).GetResponseAsync("Hi", cancellationToken: cts.Token));
        error.ShouldBeAssignableTo<OperationCanceledException>();

        fake.Behavior = new FakeBehavior { StreamChunkDelay = TimeSpan.FromMilliseconds(20) };
        (await Anthropic(fake).GetResponseAsync("Hi")).Text.ShouldBe("Hello from the fake");
    }

    [Fact]
    public void anthropic_client_describes_itself()
    {
        using var client = new AnthropicChatClient(Http, new Uri("https://api.anthropic.com"), "k", "claude-test");
        var metadata = client.GetService<ChatClientMetadata>()!;
        (metadata.ProviderName, metadata.ProviderUri, metadata.DefaultModelId).ShouldBe(("anthropic", new Uri("https://api.anthropic.com"), "claude-test"));
        client.GetService<HttpClient>().ShouldBeNull();
    }

    private static string[] Messages(JsonElement body) =>
        [.. body.GetProperty("messages").EnumerateArray().Select(m => $"{m.GetProperty("role").GetString()}:{m.GetProperty("content").GetString()}")];
}
