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
            app.MapPost(path, ctx => fake.Handle(ctx, fake.OpenAi));
        app.MapPost("/v1/messages", ctx => fake.Handle(ctx, fake.Anthropic));
        await app.StartAsync();
        fake.BaseUrl = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        return fake;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

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
            else await respond(ctx, body, behavior);
        }
        catch (Exception e) when (aborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref _aborted); // the client went away (cancelled, timed out, or cut the reply)
        }
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
            : string.Concat(content.EnumerateArray().Select(p => p.GetProperty("text").GetString()));
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
