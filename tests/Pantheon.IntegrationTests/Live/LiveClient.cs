using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Alba;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Web.Live;

namespace Pantheon.IntegrationTests.Live;

/// <summary>A test's WebSocket client of <c>/ws</c>.</summary>
public sealed class LiveClient(WebSocket socket) : IAsyncDisposable
{
    public WebSocket Socket { get; } = socket;

    public static async Task<LiveClient> ConnectAsync(IAlbaHost host, string token, bool inQuery = false)
    {
        await host.Services.GetRequiredService<LiveUpdates>().Listening.WaitAsync(TimeSpan.FromSeconds(10));
        var client = host.Server.CreateWebSocketClient();
        if (!inQuery) client.ConfigureRequest = request => request.Headers.Authorization = $"Bearer {token}";
        var uri = new Uri(host.Server.BaseAddress, inQuery ? $"ws?access_token={token}" : "ws");
        uri = new UriBuilder(uri) { Scheme = "ws" }.Uri;
        return new LiveClient(await client.ConnectAsync(uri, CancellationToken.None));
    }

    public async Task<LiveClient> Subscribe()
    {
        await Send("""{"type":"subscribe","channel":"project-updates"}""");
        (await Receive()).GetProperty("type").GetString().ShouldBe("subscribed");
        return this;
    }

    public Task Send(string text) => Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public async Task<JsonElement> Receive(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        var buffer = new byte[16 * 1024];
        var length = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await Socket.ReceiveAsync(buffer.AsMemory(length), cts.Token);
            length += result.Count;
        } while (!result.EndOfMessage);
        if (result.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"closed: {Socket.CloseStatus} {Socket.CloseStatusDescription}");
        return JsonSerializer.Deserialize<JsonElement>(Encoding.UTF8.GetString(buffer, 0, length));
    }

    /// <summary>Project updates until the one with <paramref name="status"/> for the project, in arrival order.</summary>
    public async Task<List<JsonElement>> UpdatesUntil(Guid project, string status)
    {
        var seen = new List<JsonElement>();
        while (true)
        {
            var message = await Receive();
            if (message.GetProperty("type").GetString() != "project-updated" || message.GetProperty("project_id").GetGuid() != project) continue;
            seen.Add(message);
            var now = message.GetProperty("status").GetString();
            if (now == status) return seen;
            if (now == "failed" && status != "failed")
                throw new InvalidOperationException($"project {project} failed while the test waited for '{status}': {string.Join(", ", seen)}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
            await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        Socket.Dispose();
    }
}
