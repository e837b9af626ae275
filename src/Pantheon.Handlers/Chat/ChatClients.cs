using System.ClientModel;
using System.Collections.Concurrent;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Keys;
using Pantheon.Handlers.Settings;

namespace Pantheon.Handlers.Chat;

/// <summary>
/// Makes the <see cref="IChatClient"/> for a call: OpenAI's client for every OpenAI-compatible API, our own for Anthropic.
/// The providers' base URLs are the operator's configuration and are trusted as given (tests point them at a loopback
/// fake); users' custom endpoints go through <see cref="GuardedConnections"/>.
/// </summary>
public sealed class ChatClients(ChatDefaults settings, DestinationPolicy destinations)
{
    // One connection pool for every provider call; the timeout is applied per call instead.
    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private readonly HttpClient _custom = new(GuardedConnections.Handler(destinations)) { Timeout = Timeout.InfiniteTimeSpan };

    // Clients are thread-safe and cost a pipeline each to build: one per (route, model, key), made on first use. Bounded by
    // forgetting them all when full; a revoked key's client just goes unused.
    private const int MaxClients = 4096;
    private readonly ConcurrentDictionary<(string Route, string Model, string? Key), IChatClient> _clients = new();

    public IChatClient ForProvider(string provider, string model, string? key) =>
        Cached(("provider:" + provider, model, key), k =>
        {
            var baseUrl = settings.BaseUrls.TryGetValue(provider, out var url) ? url
                : throw new InvalidOperationException($"No base URL is configured for provider '{provider}' (Chat:BaseUrls:{provider}).");
            return provider == Providers.Anthropic
                ? new AnthropicChatClient(Http, new Uri(baseUrl), k.Key ?? "", k.Model)
                : OpenAiCompatible(Http, baseUrl, k.Model, k.Key);
        });

    /// <summary>A user's custom endpoint: resolved and checked at connect time, no redirects followed.</summary>
    public IChatClient ForEndpoint(string endpoint, string model, string? key) =>
        Cached(("endpoint:" + endpoint, model, key), k => OpenAiCompatible(_custom, endpoint, k.Model, k.Key));

    private IChatClient Cached((string Route, string Model, string? Key) key, Func<(string Route, string Model, string? Key), IChatClient> make)
    {
        if (_clients.TryGetValue(key, out var client)) return client;
        if (_clients.Count >= MaxClients) _clients.Clear();
        return _clients.GetOrAdd(key, make);
    }

    private static IChatClient OpenAiCompatible(HttpClient http, string baseUrl, string model, string? key) =>
        new OpenAIClient(new ApiKeyCredential(key ?? "none"), new OpenAIClientOptions
        {
            Endpoint = new Uri(baseUrl),
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // a failure is the user's to see, with its status
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        }).GetChatClient(model).AsIChatClient();
}
