using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Pantheon.Handlers.Chat;

/// <summary>
/// An <see cref="IChatClient"/> speaking Anthropic's Messages API. Anthropic is not OpenAI-compatible, and the
/// subset we need (text, tool use, images) is small enough that a hand-written client beats another SDK dependency.
/// </summary>
public sealed class AnthropicChatClient(HttpClient http, Uri baseUrl, string apiKey, string model) : IChatClient
{
    private const string ApiVersion = "2023-06-01";
    private const int DefaultMaxTokens = 1024; // Anthropic requires max_tokens; OpenAI-style callers often omit it.

    private readonly Uri _messagesUrl = new(baseUrl.AbsoluteUri.TrimEnd('/') + "/v1/messages");
    private readonly ChatClientMetadata _metadata = new("anthropic", baseUrl, model);

    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var request = BuildRequest(messages, options, stream: false);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        await ThrowIfFailedAsync(response, cancellationToken);

        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        var root = doc.RootElement;
        var text = new StringBuilder();
        var calls = new List<AIContent>();
        if (root.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
            foreach (var block in content.EnumerateArray())
                if (Str(block, "type") == "text") text.Append(Str(block, "text"));
                else if (Str(block, "type") == "tool_use")
                    calls.Add(Call(Str(block, "id"), Str(block, "name"), block.TryGetProperty("input", out var input) ? input.GetRawText() : "{}"));

        var tokensIn = Int(root, "usage", "input_tokens");
        var output = Int(root, "usage", "output_tokens");
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, [new TextContent(text.ToString()), .. calls]))
        {
            ResponseId = Str(root, "id"),
            ModelId = Str(root, "model") ?? model,
            FinishReason = MapStopReason(Str(root, "stop_reason")),
            Usage = Usage(tokensIn, output),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var request = BuildRequest(messages, options, stream: true);
        // Headers-read so text reaches the caller as it is generated rather than when the whole answer is in.
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await ThrowIfFailedAsync(response, cancellationToken);

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        string? id = null, modelId = model;
        long? input = null;
        var tools = new Dictionary<long, (string? Id, string? Name, StringBuilder Json)>(); // tool_use blocks by index, until they stop
        await foreach (var item in SseParser.Create(body).EnumerateAsync(cancellationToken))
        {
            using var doc = JsonDocument.Parse(item.Data);
            var data = doc.RootElement;
            switch (item.EventType)
            {
                case "message_start": // the only place the prompt's token count is reported
                    id = Str(data, "message", "id");
                    modelId = Str(data, "message", "model") ?? model;
                    input = Int(data, "message", "usage", "input_tokens");
                    break;
                case "content_block_delta" when Str(data, "delta", "type") == "text_delta":
                    yield return new ChatResponseUpdate(ChatRole.Assistant, Str(data, "delta", "text") ?? "")
                    {
                        ResponseId = id, MessageId = id, ModelId = modelId,
                    };
                    break;
                case "content_block_start" when Str(data, "content_block", "type") == "tool_use":
                    tools[Int(data, "index") ?? -1] = (Str(data, "content_block", "id"), Str(data, "content_block", "name"), new StringBuilder());
                    break;
                case "content_block_delta" when Str(data, "delta", "type") == "input_json_delta":
                    if (tools.TryGetValue(Int(data, "index") ?? -1, out var open)) open.Json.Append(Str(data, "delta", "partial_json"));
                    break;
                case "content_block_stop" when tools.Remove(Int(data, "index") ?? -1, out var done):
                    // The input is whole only now: its fragments need not be valid JSON on their own.
                    yield return new ChatResponseUpdate(ChatRole.Assistant, [Call(done.Id, done.Name, done.Json.ToString())])
                    {
                        ResponseId = id, MessageId = id, ModelId = modelId,
                    };
                    break;
                case "message_delta": // output_tokens here is cumulative, so this is the final count
                    yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(input, Int(data, "usage", "output_tokens")))])
                    {
                        ResponseId = id, MessageId = id, ModelId = modelId,
                        FinishReason = MapStopReason(Str(data, "delta", "stop_reason")),
                    };
                    break;
                case "error": // e.g. overloaded mid-stream: the status line already said 200, so the event is all we get
                    var type = Str(data, "error", "type");
                    throw new ProviderHttpException(StatusOf(type), Str(data, "error", "message") ?? type ?? "Stream error", null);
            }
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() { } // the HttpClient is shared and owned by whoever handed it to us

    private HttpRequestMessage BuildRequest(IEnumerable<ChatMessage> messages, ChatOptions? options, bool stream)
    {
        var list = messages.ToList();
        var body = new JsonObject
        {
            ["model"] = options?.ModelId ?? model,
            ["max_tokens"] = options?.MaxOutputTokens ?? DefaultMaxTokens,
        };
        if (options?.Temperature is { } temperature) body["temperature"] = temperature;
        if (options?.TopP is { } topP) body["top_p"] = topP;
        if (options?.StopSequences is { Count: > 0 } stops) body["stop_sequences"] = new JsonArray([.. stops.Select(s => JsonValue.Create(s))]);

        // Anthropic takes the system prompt as a top-level field, not as a message.
        var system = string.Join("\n\n", list.Where(m => m.Role == ChatRole.System).Select(m => m.Text));
        if (system.Length > 0) body["system"] = system;
        body["messages"] = Messages(list.Where(m => m.Role != ChatRole.System));
        if (options?.Tools is { Count: > 0 } declared)
            body["tools"] = new JsonArray([.. declared.OfType<AIFunctionDeclaration>().Select(f => (JsonNode)new JsonObject
            {
                ["name"] = f.Name,
                ["description"] = f.Description,
                ["input_schema"] = JsonNode.Parse(f.JsonSchema.GetRawText()),
            })]);
        if (stream) body["stream"] = true;

        // Provider-specific knobs (top_k, metadata, thinking...) travel untouched as top-level fields.
        if (options?.AdditionalProperties is { } extra)
            foreach (var (name, value) in extra)
                body[name] = value switch
                {
                    null => null,
                    JsonNode node => node.DeepClone(),
                    JsonElement element => JsonNode.Parse(element.GetRawText()),
                    _ => JsonSerializer.SerializeToNode(value, value.GetType()),
                };

        var request = new HttpRequestMessage(HttpMethod.Post, _messagesUrl)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json"); // no charset suffix
        request.Headers.Add("x-api-key", apiKey);
        request.Headers.Add("anthropic-version", ApiVersion);
        if (stream) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return request;
    }

    /// <summary>
    /// Messages as Anthropic's content blocks: text as a plain string (as before tools), tool calls as <c>tool_use</c>, their
    /// results (the tool role) as <c>tool_result</c> blocks of a user turn, images as base64 <c>image</c> blocks. Turns of
    /// the same role in a row become one, since the API alternates user and assistant.
    /// </summary>
    private static JsonArray Messages(IEnumerable<ChatMessage> messages)
    {
        var turns = new JsonArray();
        JsonObject? last = null;
        foreach (var message in messages)
        {
            var role = message.Role == ChatRole.Assistant ? "assistant" : "user";
            var plain = message.Contents.All(c => c is TextContent);
            if (plain && last?["role"]?.GetValue<string>() != role)
            {
                last = new JsonObject { ["role"] = role, ["content"] = message.Text };
                turns.Add(last);
                continue;
            }
            var blocks = new JsonArray([.. message.Contents.Select(Block).OfType<JsonNode>()]);
            if (last?["role"]?.GetValue<string>() == role)
            {
                if (last["content"] is JsonValue text) last["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text.GetValue<string>() });
                foreach (var block in blocks.ToList()) { blocks.Remove(block); ((JsonArray)last["content"]!).Add(block); }
                continue;
            }
            last = new JsonObject { ["role"] = role, ["content"] = blocks };
            turns.Add(last);
        }
        return turns;
    }

    private static JsonNode? Block(AIContent content) => content switch
    {
        TextContent { Text.Length: > 0 } t => new JsonObject { ["type"] = "text", ["text"] = t.Text },
        FunctionCallContent call => new JsonObject
        {
            ["type"] = "tool_use", ["id"] = call.CallId, ["name"] = call.Name,
            ["input"] = JsonSerializer.SerializeToNode(call.Arguments ?? new Dictionary<string, object?>()),
        },
        FunctionResultContent result => new JsonObject
        {
            ["type"] = "tool_result", ["tool_use_id"] = result.CallId,
            ["content"] = result.Result is string text ? text : JsonSerializer.Serialize(result.Result),
            ["is_error"] = result.Exception is not null,
        },
        DataContent { MediaType: var type } data when type.StartsWith("image/", StringComparison.Ordinal) => new JsonObject
        {
            ["type"] = "image",
            ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = type, ["data"] = Convert.ToBase64String(data.Data.Span) },
        },
        _ => null,
    };

    /// <summary>A <c>tool_use</c> block as the call Microsoft.Extensions.AI hands on (arguments as JSON elements).</summary>
    private static FunctionCallContent Call(string? id, string? name, string json)
    {
        var arguments = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json.Length > 0 ? json : "{}") ?? [];
        return new FunctionCallContent(id ?? "", name ?? "", arguments.ToDictionary(a => a.Key, a => (object?)a.Value));
    }

    private static async Task ThrowIfFailedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var status = (int)response.StatusCode;
        var raw = await response.Content.ReadAsStringAsync(ct);
        string? message = null;
        try
        {
            using var doc = JsonDocument.Parse(raw);
            message = Str(doc.RootElement, "error", "message");
        }
        catch (JsonException) { } // proxies and gateways answer with HTML or plain text; fall back to the raw body
        if (string.IsNullOrWhiteSpace(message)) message = string.IsNullOrWhiteSpace(raw) ? $"HTTP {status} {response.ReasonPhrase}" : raw;
        throw new ProviderHttpException(status, message, RetryAfter(response.Headers.RetryAfter));
    }

    private static TimeSpan? RetryAfter(RetryConditionHeaderValue? header) =>
        header?.Delta ?? (header?.Date is { } date ? Max(date - DateTimeOffset.UtcNow, TimeSpan.Zero) : null);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static ChatFinishReason? MapStopReason(string? reason) => reason switch
    {
        null => null,
        "end_turn" or "stop_sequence" => ChatFinishReason.Stop,
        "max_tokens" => ChatFinishReason.Length,
        "tool_use" => ChatFinishReason.ToolCalls,
        _ => new ChatFinishReason(reason),
    };

    // Anthropic's documented error types for the statuses they would have carried outside a stream.
    private static int StatusOf(string? errorType) => errorType switch
    {
        "overloaded_error" => 529,
        "rate_limit_error" => 429,
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        _ => 500,
    };

    private static UsageDetails Usage(long? input, long? output) => new()
    {
        InputTokenCount = input,
        OutputTokenCount = output,
        TotalTokenCount = input is null && output is null ? null : (input ?? 0) + (output ?? 0),
    };

    private static JsonElement? At(JsonElement e, string[] path)
    {
        foreach (var name in path)
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out e)) return null;
        return e;
    }

    private static string? Str(JsonElement e, params string[] path) =>
        At(e, path) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    private static long? Int(JsonElement e, params string[] path) =>
        At(e, path) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt64(out var n) ? n : null;
}
