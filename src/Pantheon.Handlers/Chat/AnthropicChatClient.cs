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
/// text-only subset we need is small enough that a hand-written client beats another SDK dependency.
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
        if (root.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
            foreach (var block in content.EnumerateArray())
                if (Str(block, "type") == "text") text.Append(Str(block, "text"));

        var input = Int(root, "usage", "input_tokens");
        var output = Int(root, "usage", "output_tokens");
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ResponseId = Str(root, "id"),
            ModelId = Str(root, "model") ?? model,
            FinishReason = MapStopReason(Str(root, "stop_reason")),
            Usage = Usage(input, output),
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
        body["messages"] = new JsonArray([.. list.Where(m => m.Role != ChatRole.System).Select(m => (JsonNode)new JsonObject
        {
            ["role"] = m.Role == ChatRole.Assistant ? "assistant" : "user",
            ["content"] = m.Text,
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
