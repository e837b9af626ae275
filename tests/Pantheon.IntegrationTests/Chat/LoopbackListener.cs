using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>A bare TCP listener on a loopback address: proves whether anything connected to it, and can answer one request.</summary>
public sealed class LoopbackListener : IDisposable
{
    private readonly TcpListener _listener;

    public LoopbackListener(IPAddress address)
    {
        _listener = new TcpListener(address, 0);
        _listener.Start();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>A finished TCP handshake waits in the backlog until accepted: none there means nobody connected.</summary>
    public bool AnyoneConnected => _listener.Pending();

    /// <summary>Answers the first request with a redirect to <paramref name="location"/>.</summary>
    public async Task RedirectOnceAsync(string location, CancellationToken ct)
    {
        using var client = await _listener.AcceptTcpClientAsync(ct);
        var stream = client.GetStream();
        var buffer = new byte[16 * 1024];
        var received = new StringBuilder();
        while (!received.ToString().Contains("\r\n\r\n"))
        {
            var read = await stream.ReadAsync(buffer, ct);
            if (read == 0) break;
            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        var answer = $"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), ct);
    }

    public void Dispose() => _listener.Stop();
}
