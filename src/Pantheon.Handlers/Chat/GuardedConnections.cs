using System.Net;
using System.Net.Sockets;
using Pantheon.Domain.Chat;

namespace Pantheon.Handlers.Chat;

/// <summary>A connection the <see cref="DestinationPolicy"/> refused; it carries no socket text, and no socket was opened.</summary>
public sealed class DestinationNotAllowedException(string host)
    : IOException($"{host}: {DestinationPolicy.NotAllowed}.")
{
    public string Host { get; } = host;
}

/// <summary>
/// Connections to users' custom endpoints: the name is resolved here, at connect time, and every address it resolves to
/// must be allowed before a socket opens, so neither a literal, a numeric form nor a name that points inside the network
/// (or is rebound to it after registration) reaches it. No proxy (it would connect on our behalf), no redirects.
/// </summary>
public static class GuardedConnections
{
    public static SocketsHttpHandler Handler(DestinationPolicy policy) => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AllowAutoRedirect = false,
        UseProxy = false,
        ConnectCallback = (context, ct) => ConnectAsync(policy, context.DnsEndPoint, ct),
    };

    public static async ValueTask<Stream> ConnectAsync(DestinationPolicy policy, DnsEndPoint endpoint, CancellationToken ct)
    {
        var host = endpoint.Host.Trim('[', ']');
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Resolve(host, ct);
        if (addresses.Length == 0 || !addresses.All(policy.IsAllowed)) throw new DestinationNotAllowedException(endpoint.Host);

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<IPAddress[]> Resolve(string host, CancellationToken ct)
    {
        try
        {
            return await Dns.GetHostAddressesAsync(host, ct);
        }
        catch (SocketException)
        {
            return []; // a name that resolves to nothing is refused like one that resolves inside
        }
    }
}
