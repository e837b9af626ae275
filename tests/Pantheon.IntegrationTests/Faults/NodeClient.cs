using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>A user's HTTP client of one backend process.</summary>
public sealed class NodeClient(BackendProcess node, string token) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = node.Url, Timeout = TimeSpan.FromSeconds(60) };

    public async Task<HttpResponseMessage> Send(HttpMethod method, string url, object? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null) request.Content = JsonContent.Create(body);
        return await _http.SendAsync(request);
    }

    public async Task<JsonElement> Json(HttpMethod method, string url, object? body = null, int status = 200)
    {
        using var response = await Send(method, url, body);
        var text = await response.Content.ReadAsStringAsync();
        ((int)response.StatusCode).ShouldBe(status, $"{method} {url}: {text}");
        return text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
    }

    /// <summary>The project's status, or null while the backend cannot answer (its database is away).</summary>
    public async Task<string?> StatusOf(Guid project)
    {
        try
        {
            using var response = await Send(HttpMethod.Get, $"/api/projects/{project}");
            if (!response.IsSuccessStatusCode) return null;
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString();
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>One update a <see cref="SocketClient"/> received, and when (this process's clock).</summary>
public sealed record Received(JsonElement Message, DateTimeOffset At);

/// <summary>A WebSocket client of a backend process's <c>/ws</c>, subscribed to project updates.</summary>
public sealed class SocketClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();

    public static async Task<SocketClient> SubscribeAsync(BackendProcess node, string token)
    {
        var client = new SocketClient();
        client._socket.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        await client._socket.ConnectAsync(new UriBuilder(node.Url) { Scheme = "ws", Path = "/ws" }.Uri, CancellationToken.None);
        await client._socket.SendAsync(Encoding.UTF8.GetBytes("""{"type":"subscribe","channel":"project-updates"}"""),
            WebSocketMessageType.Text, true, CancellationToken.None);
        (await client.Receive(TimeSpan.FromSeconds(30))).Message.GetProperty("type").GetString().ShouldBe("subscribed");
        return client;
    }

    public async Task<Received> Receive(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[16 * 1024];
        var length = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await _socket.ReceiveAsync(buffer.AsMemory(length), cts.Token);
            length += result.Count;
        } while (!result.EndOfMessage);
        if (result.MessageType == WebSocketMessageType.Close)
            throw new InvalidOperationException($"closed: {_socket.CloseStatus} {_socket.CloseStatusDescription}");
        return new Received(JsonSerializer.Deserialize<JsonElement>(Encoding.UTF8.GetString(buffer, 0, length)), DateTimeOffset.UtcNow);
    }

    /// <summary>The project's updates, in arrival order, until the one with <paramref name="status"/>.</summary>
    public async Task<List<Received>> UpdatesUntil(Guid project, string status, TimeSpan timeout, List<Received>? seen = null)
    {
        seen ??= [];
        var watch = Stopwatch.StartNew();
        TimeoutException TimedOut() =>
            new($"no '{status}' update of {project} within {timeout}; seen: {string.Join(", ", seen.Select(s => s.Message))}");
        while (true)
        {
            var left = timeout - watch.Elapsed;
            if (left <= TimeSpan.Zero) throw TimedOut();
            Received received;
            try
            {
                received = await Receive(left);
            }
            catch (OperationCanceledException)
            {
                throw TimedOut();
            }
            var message = received.Message;
            if (message.GetProperty("type").GetString() != "project-updated") continue;
            if (message.GetProperty("project_id").GetGuid() != project) continue;
            seen.Add(received);
            if (message.GetProperty("status").GetString() == status) return seen;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        _socket.Dispose();
    }
}
