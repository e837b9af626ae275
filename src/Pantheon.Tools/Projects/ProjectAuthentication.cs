using System.Net;
using System.Security.Cryptography;
using System.Text;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;

namespace Pantheon.Tools.Projects;

/// <summary>
/// Which project a request may act on: the one whose MCP secret it bears (compared in constant time). A request that came
/// in on a project network (the connection's local address is that project's <c>.1</c>, its peer inside the same /24)
/// may act only on that project; one that came in on a main network (<see cref="ToolsSettings.MainNetworks"/>, the
/// backend's side) on the project whose secret it bears. Anything else is refused.
/// </summary>
public sealed class ProjectAuthentication(ProjectDirectory projects, SharedFolders folders, ToolsSettings settings)
{
    private readonly IReadOnlyList<(uint Address, uint Mask, IPAddress? V6)> _main = settings.MainNetworks.Select(ParseNetwork).ToList();

    public async Task<(ToolProject? Project, string? Refusal)> AuthenticateAsync(HttpContext context, CancellationToken ct)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
            return (null, "A bearer token is required: the project's MCP_PROJECT_SECRET from its .env.");
        var presented = Encoding.UTF8.GetBytes(header[7..].Trim());
        var local = Normalize(context.Connection.LocalIpAddress);
        var remote = Normalize(context.Connection.RemoteIpAddress);
        if (local is null || remote is null) return (null, "The connection's addresses are unknown.");

        if (IsMain(local))
        {
            foreach (var candidate in await projects.LiveAsync(false, ct))
                if (Matches(candidate, presented)) return (candidate, null);
            foreach (var candidate in await projects.LiveAsync(true, ct))
                if (Matches(candidate, presented)) return (candidate, null);
            return (null, "The bearer token is no live project's MCP secret.");
        }

        var project = await projects.AtToolsAddressAsync(local, ct);
        if (project is null || context.Connection.LocalPort != settings.Port) return (null, "This address serves no project's tools.");
        if (!InSubnet(remote, project.Subnet)) return (null, "The request did not come from the project's network.");
        return Matches(project, presented) ? (project, null) : (null, "The bearer token is not this project's MCP secret.");
    }

    private bool Matches(ToolProject project, byte[] presented) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(folders.ProjectSecret(project.Id)), presented);

    private bool IsMain(IPAddress address)
    {
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            return _main.Any(n => n.V6 is { } v6 && v6.Equals(address));
        var value = ToUInt(address);
        return _main.Any(n => n.V6 is null && (value & n.Mask) == n.Address);
    }

    private static bool InSubnet(IPAddress address, Subnet subnet) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && (ToUInt(address) & 0xffffff00u) == subnet.NetworkAddress;

    private static IPAddress? Normalize(IPAddress? address) => address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    private static uint ToUInt(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return (uint)b[0] << 24 | (uint)b[1] << 16 | (uint)b[2] << 8 | b[3];
    }

    /// <summary>An IPv4 CIDR, or one IPv6 address (with or without <c>/128</c>): the backend's side needs no more.</summary>
    private static (uint, uint, IPAddress?) ParseNetwork(string cidr)
    {
        var text = cidr.Split('/')[0];
        var address = IPAddress.Parse(text);
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) return (0, 0, address);
        var (network, prefix) = SubnetPool.ParseCidr(cidr.Contains('/') ? cidr : cidr + "/32");
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        return (network & mask, mask, null);
    }
}

/// <summary>The authenticated project of the current request.</summary>
public static class ToolCallerContext
{
    private const string Key = "pantheon.tools.project";

    public static void Set(HttpContext context, ToolProject project) => context.Items[Key] = project;

    public static ToolProject Get(HttpContext? context) =>
        context?.Items[Key] as ToolProject ?? throw new InvalidOperationException("The request has no authenticated project.");
}
