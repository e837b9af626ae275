using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Pantheon.TestSupport;

public sealed record RecordedRequest(string Path, IReadOnlyDictionary<string, string> Headers, JsonElement Body);

/// <summary>How the fake answers the next requests. Read once per request, so a test may swap it between calls.</summary>
public sealed record FakeBehavior
{
    public string Reply { get; init; } = "Hello from the fake";
    /// <summary>When set, every request is answered with this status and the provider's error body (429 adds Retry-After: 7).</summary>
    public int? Status { get; init; }
    public TimeSpan Delay { get; init; } = TimeSpan.Zero;
    public TimeSpan StreamChunkDelay { get; init; } = TimeSpan.Zero;
    public int InputTokens { get; init; } = 11;
    public int OutputTokens { get; init; } = 7;
    /// <summary>Answer 200 with a body that is neither the API's JSON nor its server-sent events.</summary>
    public bool Garbage { get; init; }
    /// <summary>Reply with <c>echo: </c> and the request's last message, so that each reply tells which message it answers.</summary>
    public bool Echo { get; init; }
}

/// <summary>A model of the fake OpenRouter's catalogue (<c>GET /api/v1/models</c>): its id and what it takes as input.</summary>
public sealed record CatalogueModel(string Id, params string[] InputModalities)
{
    /// <summary>The fake's catalogue: models that take images and models that take text only, under their OpenRouter ids.</summary>
    public static readonly IReadOnlyList<CatalogueModel> Default =
    [
        new("openai/gpt-4o", "text", "image", "file"),
        new("openai/gpt-4o-mini", "text", "image", "file"),
        new("anthropic/claude-3.5-sonnet", "text", "image", "file"),
        new("meta-llama/llama-3.1-70b-instruct", "text"),
        new("mistralai/mistral-7b-instruct", "text"),
    ];
}

/// <summary>A tool call a scripted model makes: the tool, its arguments (serialized as the JSON object), and its id.</summary>
public sealed record ScriptedCall(string Name, object Arguments, string? Id = null);

/// <summary>
/// One answer of a scripted model: text, then tool calls (none: a final answer). Each request takes the next round of
/// <see cref="FakeProvider.Script"/>; when it is empty the fake answers as <see cref="FakeBehavior"/> says.
/// </summary>
public sealed record ScriptedRound(string Text = "", params ScriptedCall[] Calls)
{
    /// <summary>Awaited before the round is answered: a test holds the model until something it waits for happened.</summary>
    public Func<Task>? Before { get; init; }

    public static ScriptedRound Call(string name, object arguments) => new("", new ScriptedCall(name, arguments));
}

/// <summary>
/// A loopback AI provider speaking the real wire protocols (OpenAI chat completions and Anthropic messages,
/// plain and streamed) over real Kestrel, so the actual SDK clients are exercised end to end.
/// </summary>
public sealed partial class FakeProvider : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeProvider(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();
    public FakeBehavior Behavior { get; set; } = new();

    /// <summary>What <c>GET /api/v1/models</c> lists, as OpenRouter's catalogue does.</summary>
    public IReadOnlyList<CatalogueModel> Catalogue { get; set; } = CatalogueModel.Default;

    /// <summary>When set, <c>GET /api/v1/models</c> answers this status with OpenRouter's error body.</summary>
    public int? CatalogueStatus { get; set; }

    private int _catalogueReads;

    /// <summary>Requests for the catalogue (kept apart from <see cref="Requests"/>: a backend reads it in the background).</summary>
    public int CatalogueReads => Volatile.Read(ref _catalogueReads);

    /// <summary>The rounds a scripted model answers with, one per request, in order.</summary>
    public ConcurrentQueue<ScriptedRound> Script { get; } = new();

    /// <summary>Replaces the script with <paramref name="rounds"/>.</summary>
    public void Scripted(params ScriptedRound[] rounds)
    {
        Script.Clear();
        foreach (var round in rounds) Script.Enqueue(round);
    }

    private int _aborted;

    /// <summary>Requests whose client closed the connection before the fake finished answering.</summary>
    public int AbortedRequests => Volatile.Read(ref _aborted);

    public static async Task<FakeProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders(); // aborted requests are expected here; keep test output quiet
        var app = builder.Build();
        var fake = new FakeProvider(app);
        foreach (var path in new[] { "/v1/chat/completions", "/api/v1/chat/completions", "/v1beta/openai/chat/completions" })
            app.MapPost(path, ctx => fake.Handle(ctx, fake.OpenAiHandler));
        app.MapPost("/v1/messages", ctx => fake.Handle(ctx, fake.AnthropicHandler));
        app.MapGet("/api/v1/models", fake.OpenRouterModels);
        await app.StartAsync();
        fake.BaseUrl = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        return fake;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private Func<HttpContext, JsonElement, FakeBehavior, Task> OpenAiHandler => _openAi ??= OpenAi;
    private Func<HttpContext, JsonElement, FakeBehavior, Task> AnthropicHandler => _anthropic ??= Anthropic;
    private Func<HttpContext, JsonElement, FakeBehavior, Task>? _openAi, _anthropic;

    private async Task Handle(HttpContext ctx, Func<HttpContext, JsonElement, FakeBehavior, Task> respond)
    {
        var aborted = ctx.RequestAborted;
        try
        {
            var body = default(JsonElement);
            try
            {
                using var doc = await JsonDocument.ParseAsync(ctx.Request.Body, cancellationToken: aborted);
                body = doc.RootElement.Clone();
            }
            catch (JsonException) { } // recorded as an undefined element; the test will say what it expected
            Requests.Enqueue(new RecordedRequest(
                ctx.Request.Path,
                ctx.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
                body));

            var behavior = Behavior;
            if (behavior.Echo) behavior = behavior with { Reply = "echo: " + LastMessage(body) };
            if (behavior.Delay > TimeSpan.Zero) await Task.Delay(behavior.Delay, aborted);
            if (behavior.Garbage) await Garbage(ctx, body);
            else if (behavior.Status is null && Script.TryDequeue(out var round))
            {
                if (round.Before is { } before) await before();
                await (respond == OpenAiHandler ? OpenAiRound(ctx, body, behavior, round) : AnthropicRound(ctx, body, behavior, round));
            }
            else await respond(ctx, body, behavior);
        }
        catch (Exception e) when (aborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref _aborted); // the client went away (cancelled, timed out, or cut the reply)
        }
    }

    /// <summary>
    /// OpenRouter's <c>GET /models</c>: <c>{"data": [...]}</c>, each model with its id, name, pricing, context and
    /// <c>architecture</c> (<c>modality</c> such as <c>text+image->text</c>, <c>input_modalities</c>, <c>output_modalities</c>).
    /// </summary>
    private async Task OpenRouterModels(HttpContext ctx)
    {
        Interlocked.Increment(ref _catalogueReads);
        if (CatalogueStatus is { } status)
        {
            await Error(ctx, status, new { error = new { code = status, message = $"Fake failure {status}" } });
            return;
        }
        await Json(ctx, new
        {
            data = Catalogue.Select(m => new
            {
                id = m.Id, canonical_slug = m.Id, name = m.Id, created = 1715558400, description = $"The fake's {m.Id}.",
                context_length = 128000,
                architecture = new
                {
                    modality = string.Join('+', m.InputModalities) + "->text", input_modalities = m.InputModalities,
                    output_modalities = new[] { "text" }, tokenizer = "Other", instruct_type = (string?)null,
                },
                pricing = new
                {
                    prompt = "0.0000025", completion = "0.00001", request = "0", image = "0", web_search = "0", internal_reasoning = "0",
                },
                top_provider = new { context_length = 128000, max_completion_tokens = 16384, is_moderated = false },
                per_request_limits = (object?)null,
                supported_parameters = new[] { "max_tokens", "temperature", "top_p", "tools", "tool_choice", "stop", "seed" },
            }),
        });
    }

    private async Task OpenAi(HttpContext ctx, JsonElement request, FakeBehavior b)
    {
        if (b.Status is { } status)
        {
            var (message, type, code) = status switch
            {
                401 => ("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
                429 => ("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
                _ => ($"Fake failure {status}", "server_error", (string?)null),
            };
            await Error(ctx, status, new { error = new { message, type, param = (string?)null, code } });
            return;
        }

        var id = $"chatcmpl-{Guid.NewGuid():N}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var model = Str(request, "model");
        var usage = new { prompt_tokens = b.InputTokens, completion_tokens = b.OutputTokens, total_tokens = b.InputTokens + b.OutputTokens };
        if (!IsStream(request))
        {
            await Json(ctx, new
            {
                id, @object = "chat.completion", created, model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = b.Reply }, finish_reason = "stop" } },
                usage,
            });
            return;
        }

        var includeUsage = request.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
        object Chunk(object delta, string? finish) => new
        {
            id, @object = "chat.completion.chunk", created, model,
            choices = new[] { new { index = 0, delta, finish_reason = finish } },
        };
        StartStream(ctx);
        await Event(ctx, null, Chunk(new { role = "assistant", content = "" }, null), TimeSpan.Zero);
        foreach (var piece in Words(b.Reply))
            await Event(ctx, null, Chunk(new { content = piece }, null), b.StreamChunkDelay);
        await Event(ctx, null, Chunk(new { }, "stop"), b.StreamChunkDelay);
        if (includeUsage)
            await Event(ctx, null, new { id, @object = "chat.completion.chunk", created, model, choices = Array.Empty<object>(), usage }, TimeSpan.Zero);
        await ctx.Response.WriteAsync("data: [DONE]\n\n", ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    private async Task Anthropic(HttpContext ctx, JsonElement request, FakeBehavior b)
    {
        if (b.Status is { } status)
        {
            var (type, message) = status switch
            {
                401 => ("authentication_error", "invalid x-api-key"),
                429 => ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
                529 => ("overloaded_error", "Overloaded"),
                400 => ("invalid_request_error", "Fake invalid request"),
                _ => ("api_error", $"Fake failure {status}"),
            };
            await Error(ctx, status, new { type = "error", error = new { type, message } });
            return;
        }

        var id = $"msg_{Guid.NewGuid():N}";
        var model = Str(request, "model");
        if (!IsStream(request))
        {
            await Json(ctx, new
            {
                id, type = "message", role = "assistant", model,
                content = new[] { new { type = "text", text = b.Reply } },
                stop_reason = "end_turn", stop_sequence = (string?)null,
                usage = new { input_tokens = b.InputTokens, output_tokens = b.OutputTokens },
            });
            return;
        }

        StartStream(ctx);
        await Event(ctx, "message_start", new
        {
            type = "message_start",
            message = new
            {
                id, type = "message", role = "assistant", model, content = Array.Empty<object>(),
                stop_reason = (string?)null, stop_sequence = (string?)null,
                usage = new { input_tokens = b.InputTokens, output_tokens = 1 },
            },
        }, TimeSpan.Zero);
        await Event(ctx, "content_block_start", new { type = "content_block_start", index = 0, content_block = new { type = "text", text = "" } }, TimeSpan.Zero);
        foreach (var piece in Words(b.Reply))
            await Event(ctx, "content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = piece } }, b.StreamChunkDelay);
        await Event(ctx, "content_block_stop", new { type = "content_block_stop", index = 0 }, TimeSpan.Zero);
        await Event(ctx, "message_delta", new
        {
            type = "message_delta",
            delta = new { stop_reason = "end_turn", stop_sequence = (string?)null },
            usage = new { output_tokens = b.OutputTokens },
        }, b.StreamChunkDelay);
        await Event(ctx, "message_stop", new { type = "message_stop" }, TimeSpan.Zero);
    }

    /// <summary>
    /// A scripted round in OpenAI's format: <c>tool_calls</c> on the message (arguments as a JSON string), finish reason
    /// <c>tool_calls</c>; streamed, each call opens with its index, id and name, and its arguments follow in fragments.
    /// </summary>
    private static async Task OpenAiRound(HttpContext ctx, JsonElement request, FakeBehavior b, ScriptedRound round)
    {
        var id = $"chatcmpl-{Guid.NewGuid():N}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var model = Str(request, "model");
        var calls = round.Calls.Select((c, i) => (Id: c.Id ?? $"call_{Guid.NewGuid():N}"[..29], c.Name, Arguments: JsonSerializer.Serialize(c.Arguments)))
            .ToList();
        var finish = calls.Count > 0 ? "tool_calls" : "stop";
        var usage = new { prompt_tokens = b.InputTokens, completion_tokens = b.OutputTokens, total_tokens = b.InputTokens + b.OutputTokens };
        if (!IsStream(request))
        {
            var message = new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = round.Text.Length > 0 ? round.Text : null };
            if (calls.Count > 0)
                message["tool_calls"] = calls.Select(c => new { id = c.Id, type = "function", function = new { name = c.Name, arguments = c.Arguments } });
            await Json(ctx, new
            {
                id, @object = "chat.completion", created, model,
                choices = new[] { new { index = 0, message, finish_reason = finish } }, usage,
            });
            return;
        }
        object Chunk(object delta, string? reason) => new
        {
            id, @object = "chat.completion.chunk", created, model, choices = new[] { new { index = 0, delta, finish_reason = reason } },
        };
        StartStream(ctx);
        await Event(ctx, null, Chunk(new { role = "assistant", content = "" }, null), TimeSpan.Zero);
        foreach (var piece in Words(round.Text)) await Event(ctx, null, Chunk(new { content = piece }, null), b.StreamChunkDelay);
        for (var i = 0; i < calls.Count; i++)
        {
            var call = calls[i];
            await Event(ctx, null, Chunk(new
            {
                tool_calls = new[] { new { index = i, id = call.Id, type = "function", function = new { name = call.Name, arguments = "" } } },
            }, null), b.StreamChunkDelay);
            foreach (var fragment in Fragments(call.Arguments))
                await Event(ctx, null, Chunk(new { tool_calls = new[] { new { index = i, function = new { arguments = fragment } } } }, null),
                    b.StreamChunkDelay);
        }
        await Event(ctx, null, Chunk(new { }, finish), b.StreamChunkDelay);
        await Event(ctx, null, new { id, @object = "chat.completion.chunk", created, model, choices = Array.Empty<object>(), usage }, TimeSpan.Zero);
        await ctx.Response.WriteAsync("data: [DONE]\n\n", ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>
    /// A scripted round in Anthropic's format: <c>tool_use</c> content blocks, stop reason <c>tool_use</c>; streamed, a
    /// <c>content_block_start</c> with the tool_use block, then <c>input_json_delta</c> fragments of its input.
    /// </summary>
    private static async Task AnthropicRound(HttpContext ctx, JsonElement request, FakeBehavior b, ScriptedRound round)
    {
        var id = $"msg_{Guid.NewGuid():N}";
        var model = Str(request, "model");
        var calls = round.Calls.Select(c => (Id: c.Id ?? $"toolu_{Guid.NewGuid():N}", c.Name, Input: JsonSerializer.Serialize(c.Arguments)))
            .ToList();
        var stop = calls.Count > 0 ? "tool_use" : "end_turn";
        if (!IsStream(request))
        {
            var content = new List<object>();
            if (round.Text.Length > 0) content.Add(new { type = "text", text = round.Text });
            content.AddRange(calls.Select(c => (object)new { type = "tool_use", id = c.Id, name = c.Name, input = JsonDocument.Parse(c.Input).RootElement }));
            await Json(ctx, new
            {
                id, type = "message", role = "assistant", model, content, stop_reason = stop, stop_sequence = (string?)null,
                usage = new { input_tokens = b.InputTokens, output_tokens = b.OutputTokens },
            });
            return;
        }
        StartStream(ctx);
        await Event(ctx, "message_start", new
        {
            type = "message_start",
            message = new
            {
                id, type = "message", role = "assistant", model, content = Array.Empty<object>(), stop_reason = (string?)null,
                stop_sequence = (string?)null, usage = new { input_tokens = b.InputTokens, output_tokens = 1 },
            },
        }, TimeSpan.Zero);
        var index = 0;
        if (round.Text.Length > 0)
        {
            await Event(ctx, "content_block_start", new { type = "content_block_start", index, content_block = new { type = "text", text = "" } }, TimeSpan.Zero);
            foreach (var piece in Words(round.Text))
                await Event(ctx, "content_block_delta", new { type = "content_block_delta", index, delta = new { type = "text_delta", text = piece } },
                    b.StreamChunkDelay);
            await Event(ctx, "content_block_stop", new { type = "content_block_stop", index }, TimeSpan.Zero);
            index++;
        }
        foreach (var call in calls)
        {
            await Event(ctx, "content_block_start", new
            {
                type = "content_block_start", index, content_block = new { type = "tool_use", id = call.Id, name = call.Name, input = new { } },
            }, b.StreamChunkDelay);
            foreach (var fragment in Fragments(call.Input))
                await Event(ctx, "content_block_delta", new
                {
                    type = "content_block_delta", index, delta = new { type = "input_json_delta", partial_json = fragment },
                }, b.StreamChunkDelay);
            await Event(ctx, "content_block_stop", new { type = "content_block_stop", index }, TimeSpan.Zero);
            index++;
        }
        await Event(ctx, "message_delta", new
        {
            type = "message_delta", delta = new { stop_reason = stop, stop_sequence = (string?)null }, usage = new { output_tokens = b.OutputTokens },
        }, b.StreamChunkDelay);
        await Event(ctx, "message_stop", new { type = "message_stop" }, TimeSpan.Zero);
    }

    /// <summary>A JSON text in pieces of up to 7 characters, as providers stream arguments: no piece need be valid JSON.</summary>
    private static IEnumerable<string> Fragments(string json)
    {
        for (var i = 0; i < json.Length; i += 7) yield return json.Substring(i, Math.Min(7, json.Length - i));
    }

    /// <summary>What a broken gateway sends: an HTML page, or an event stream whose events are not JSON.</summary>
    private static async Task Garbage(HttpContext ctx, JsonElement request)
    {
        if (IsStream(request))
        {
            StartStream(ctx);
            const string events = "event: message_start\ndata: <html>this is not json\n\ndata: {not json either\n\n";
            await ctx.Response.WriteAsync(events, ctx.RequestAborted);
            return;
        }
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync("<html><body>502 Bad Gateway</body></html>", ctx.RequestAborted);
    }

    private static string LastMessage(JsonElement request)
    {
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("messages", out var messages)) return "";
        var content = messages.EnumerateArray().Last().GetProperty("content");
        return content.ValueKind == JsonValueKind.String ? content.GetString()!
            : string.Concat(content.EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : ""));
    }

    private static bool IsStream(JsonElement request) =>
        request.ValueKind == JsonValueKind.Object && request.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    // One chunk per word, spaces kept, so concatenating the chunks gives back the reply exactly.
    private static IEnumerable<string> Words(string reply) => WordPattern().Matches(reply).Select(m => m.Value);

    [GeneratedRegex(@"\s*\S+\s*|\s+")]
    private static partial Regex WordPattern();

    private static async Task Error(HttpContext ctx, int status, object body)
    {
        ctx.Response.StatusCode = status;
        if (status == 429) ctx.Response.Headers.RetryAfter = "7";
        await Json(ctx, body);
    }

    private static async Task Json(HttpContext ctx, object body)
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(JsonSerializer.Serialize(body), ctx.RequestAborted);
    }

    private static void StartStream(HttpContext ctx)
    {
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
    }

    private static async Task Event(HttpContext ctx, string? name, object data, TimeSpan delayBefore)
    {
        if (delayBefore > TimeSpan.Zero) await Task.Delay(delayBefore, ctx.RequestAborted);
        var text = (name is null ? "" : $"event: {name}\n") + $"data: {JsonSerializer.Serialize(data)}\n\n";
        await ctx.Response.WriteAsync(text, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted); // each event must reach the client on its own
    }
}
