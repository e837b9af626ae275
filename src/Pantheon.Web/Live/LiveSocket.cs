using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Pantheon.Web.Live;

/// <summary>
/// One client connection. Outgoing messages wait in a bounded queue drained by their own loop, so a slow client
/// never slows the listener or other clients; a client that falls a whole queue behind is closed with a reason, and so
/// is one whose token expires (<paramref name="expiresAt"/>): updates stop with the token's lifetime.
/// </summary>
public sealed class LiveSocket(WebSocket socket, string userId, int bufferSize, DateTimeOffset? expiresAt = null)
{
    public const string ExpiredReason = "The token expired; reconnect with a new token.";

    private const int MaxIncomingBytes = 4096;
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(10);
    private readonly Channel<string> _outgoing = Channel.CreateBounded<string>(new BoundedChannelOptions(bufferSize) { SingleReader = true });
    private volatile bool _overflowed;
    private volatile bool _expired;

    public string UserId { get; } = userId;
    public bool Subscribed { get; private set; }

    public void Enqueue(string message)
    {
        if (_expired) return; // closing: nothing more goes out, and that is not the client falling behind
        if (!_outgoing.Writer.TryWrite(message))
        {
            _overflowed = true;
            _outgoing.Writer.TryComplete();
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sending = SendLoop(stop.Token);
        var expiring = ExpireAt(stop.Token);
        try
        {
            await ReceiveLoop(stop.Token);
        }
        finally
        {
            _outgoing.Writer.TryComplete();
            await sending;
            stop.Cancel();
            await expiring;
        }
    }

    /// <summary>At the token's expiry no more updates go out, and the send loop closes the socket with the reason.</summary>
    private async Task ExpireAt(CancellationToken ct)
    {
        if (expiresAt is not { } at) return;
        var remaining = at - DateTimeOffset.UtcNow;
        var longest = TimeSpan.FromMilliseconds(int.MaxValue - 1);
        try
        {
            while (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining < longest ? remaining : longest, ct);
                remaining = at - DateTimeOffset.UtcNow;
            }
        }
        catch (OperationCanceledException)
        {
            return; // the socket closed first
        }
        _expired = true;
        _outgoing.Writer.TryComplete();
    }

    private async Task ReceiveLoop(CancellationToken ct)
    {
        var buffer = new byte[MaxIncomingBytes];
        while (socket.State == WebSocketState.Open && !_overflowed && !_expired)
        {
            WebSocketReceiveResult result;
            var length = 0;
            do
            {
                var received = await socket.ReceiveAsync(buffer.AsMemory(length), ct);
                result = new WebSocketReceiveResult(received.Count, received.MessageType, received.EndOfMessage);
                length += result.Count;
                if (!result.EndOfMessage && length == buffer.Length)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, $"Messages are limited to {MaxIncomingBytes} bytes.", ct);
                    return;
                }
            } while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                if (socket.State == WebSocketState.CloseReceived) await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", ct);
                return;
            }
            Handle(Encoding.UTF8.GetString(buffer, 0, length));
        }
    }

    private void Handle(string text)
    {
        string? type = null, channel = null;
        try
        {
            using var json = JsonDocument.Parse(text);
            if (json.RootElement.ValueKind == JsonValueKind.Object)
            {
                type = json.RootElement.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                channel = json.RootElement.TryGetProperty("channel", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            }
        }
        catch (JsonException)
        {
            Enqueue(Error("The message is not JSON."));
            return;
        }

        switch (type, channel)
        {
            case ("subscribe", "project-updates"):
                Subscribed = true;
                Enqueue(JsonSerializer.Serialize(new { type = "subscribed", channel }));
                break;
            case ("unsubscribe", "project-updates"):
                Subscribed = false;
                Enqueue(JsonSerializer.Serialize(new { type = "unsubscribed", channel }));
                break;
            case ("subscribe" or "unsubscribe", _):
                Enqueue(Error($"Unknown channel '{channel}'; the only channel is 'project-updates'."));
                break;
            case ("ping", _):
                Enqueue(JsonSerializer.Serialize(new { type = "pong" }));
                break;
            default:
                Enqueue(Error($"Unknown message type '{type}'."));
                break;
        }
    }

    private static string Error(string message) => JsonSerializer.Serialize(new { type = "error", message });

    private async Task SendLoop(CancellationToken ct)
    {
        try
        {
            await foreach (var message in _outgoing.Reader.ReadAllAsync(ct))
            {
                // A send the client never takes in aborts the socket rather than holding this loop forever.
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(SendTimeout);
                await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
            }
            if (_expired && socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await socket.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation, ExpiredReason, ct);
            else if (_overflowed && socket.State == WebSocketState.Open)
                await socket.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation, "The client fell too far behind; reconnect and read faster.", ct);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The client is gone; there is nobody left to tell.
        }
    }
}
