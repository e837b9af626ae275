using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Pantheon.Domain.Chat;

/// <summary>What kind of network an address belongs to; everything but <see cref="Public"/> is inside someone's network.</summary>
public enum AddressKind
{
    Public,
    Unspecified,
    Loopback,
    /// <summary>RFC 1918 (and IPv6 site-local).</summary>
    Private,
    LinkLocal,
    /// <summary>RFC 6598 shared address space, 100.64.0.0/10.</summary>
    CarrierGradeNat,
    /// <summary>IPv6 unique-local, fc00::/7.</summary>
    UniqueLocal,
    Multicast,
    Broadcast,
    /// <summary>Documentation, benchmarking, protocol assignments, future use, tunnels that hide their target.</summary>
    Reserved,
}

/// <summary>
/// Where a user's custom model endpoint may lead: public addresses, and private ones only inside
/// <c>Chat:AllowedPrivateNetworks</c>. The same rule answers at registration (the URL's host) and at connect time
/// (every address the name resolves to), so a name that resolves inside the network later is still refused.
/// </summary>
public sealed partial class DestinationPolicy(IReadOnlyList<IPNetwork> allowedPrivateNetworks)
{
    public const string NotAllowed = "destination not allowed";

    public IReadOnlyList<IPNetwork> AllowedPrivateNetworks { get; } = allowedPrivateNetworks;

    /// <summary>Parses the configured CIDRs; a bad one stops the start with the setting's name.</summary>
    public static DestinationPolicy From(IEnumerable<string> cidrs) => new(cidrs
        .Where(c => !string.IsNullOrWhiteSpace(c))
        .Select(c => IPNetwork.TryParse(c.Trim(), out var network) ? network
            : throw new InvalidOperationException($"Chat:AllowedPrivateNetworks: '{c}' is not a CIDR such as 127.0.0.0/8."))
        .ToList());

    public bool IsAllowed(IPAddress address)
    {
        var canonical = Canonical(address);
        return Classify(canonical) == AddressKind.Public
            || AllowedPrivateNetworks.Any(n => n.Contains(canonical) || n.Contains(address));
    }

    /// <summary>
    /// Why an endpoint cannot be registered, or null. It must be an absolute https URL (http only to an address inside
    /// the allowed networks, for local models); an address written as the host must be allowed, and a host written as a
    /// number in any other form than four decimal parts (<c>127.1</c>, <c>2130706433</c>, <c>0x7f000001</c>) is refused.
    /// </summary>
    public string? CheckEndpoint(string? endpoint)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            return "endpoint must be an absolute https URL.";
        var host = RawHost(endpoint!);
        if (NumericHost().IsMatch(host) && !CanonicalIPv4().IsMatch(host))
            return "endpoint's host is a number in a form other than a dotted address; write the host name or a.b.c.d.";
        IPAddress? literal = IPAddress.TryParse(host.Trim('[', ']'), out var parsed) ? parsed : null;
        if (literal is not null && !IsAllowed(literal))
            return $"endpoint's address is {Describe(Classify(Canonical(literal)))}: {NotAllowed}.";
        if (uri.Scheme == Uri.UriSchemeHttp && !IsLocalAndAllowed(literal, host))
            return "endpoint must be an absolute https URL (http only to an address in Chat:AllowedPrivateNetworks).";
        return null;
    }

    private bool IsLocalAndAllowed(IPAddress? literal, string host) =>
        literal is not null ? Classify(Canonical(literal)) != AddressKind.Public
            : string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) && IsAllowed(IPAddress.Loopback);

    /// <summary>The host as written, before <see cref="Uri"/> turns <c>127.1</c> into <c>127.0.0.1</c>.</summary>
    private static string RawHost(string endpoint)
    {
        var authority = endpoint[(endpoint.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var end = authority.IndexOfAny(['/', '?', '#', '\\']);
        if (end >= 0) authority = authority[..end];
        authority = authority[(authority.LastIndexOf('@') + 1)..];
        if (authority.StartsWith('[')) return authority[..(authority.IndexOf(']') + 1)];
        var colon = authority.LastIndexOf(':');
        return (colon >= 0 ? authority[..colon] : authority).TrimEnd('.');
    }

    /// <summary>An IPv4 address inside an IPv6 one (mapped, compatible, NAT64, 6to4) as that IPv4 address.</summary>
    public static IPAddress Canonical(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address;
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        if (bytes.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0 && !(bytes[12] == 0 && bytes[13] == 0 && bytes[14] == 0 && bytes[15] <= 1))
            return new IPAddress(bytes.AsSpan(12, 4)); // IPv4-compatible ::a.b.c.d (:: and ::1 are IPv6's own)
        if (bytes is [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, ..]) return new IPAddress(bytes.AsSpan(12, 4)); // NAT64
        if (bytes is [0x20, 0x02, ..]) return new IPAddress(bytes.AsSpan(2, 4)); // 6to4
        return address;
    }

    public static AddressKind Classify(IPAddress address)
    {
        var b = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return b switch
            {
                [0, ..] => AddressKind.Unspecified,
                [10, ..] => AddressKind.Private,
                [127, ..] => AddressKind.Loopback,
                [169, 254, ..] => AddressKind.LinkLocal,
                [172, >= 16 and <= 31, ..] => AddressKind.Private,
                [192, 168, ..] => AddressKind.Private,
                [100, >= 64 and <= 127, ..] => AddressKind.CarrierGradeNat,
                [192, 0, 0, _] or [192, 0, 2, _] or [198, 51, 100, _] or [203, 0, 113, _] or [198, 18 or 19, ..] => AddressKind.Reserved,
                [255, 255, 255, 255] => AddressKind.Broadcast,
                [>= 224 and <= 239, ..] => AddressKind.Multicast,
                [>= 240, ..] => AddressKind.Reserved,
                _ => AddressKind.Public,
            };
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return AddressKind.Reserved;
        var canonical = Canonical(address);
        if (!ReferenceEquals(canonical, address)) return Classify(canonical);
        if (address.Equals(IPAddress.IPv6Any)) return AddressKind.Unspecified;
        if (address.Equals(IPAddress.IPv6Loopback)) return AddressKind.Loopback;
        return b switch
        {
            [0xff, ..] => AddressKind.Multicast,
            [0xfe, >= 0x80 and <= 0xbf, ..] => AddressKind.LinkLocal,
            [0xfe, >= 0xc0, ..] => AddressKind.Private, // site-local, deprecated but still routed inside some networks
            [>= 0xfc and <= 0xfd, ..] => AddressKind.UniqueLocal,
            [0x20, 0x01, 0x0d, 0xb8, ..] => AddressKind.Reserved, // documentation
            [0x20, 0x01, 0x00, 0x00, ..] => AddressKind.Reserved, // Teredo: the IPv4 target is hidden
            [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01, ..] => AddressKind.Reserved, // local-use NAT64
            [0x01, 0x00, 0, 0, 0, 0, 0, 0, ..] => AddressKind.Reserved, // discard
            [0, ..] => AddressKind.Reserved, // the rest of ::/8
            _ => AddressKind.Public,
        };
    }

    private static string Describe(AddressKind kind) => kind switch
    {
        AddressKind.CarrierGradeNat => "carrier-grade NAT",
        AddressKind.UniqueLocal => "unique-local",
        AddressKind.LinkLocal => "link-local",
        _ => kind.ToString().ToLowerInvariant(),
    };

    /// <summary>Digits, dots and hex parts only: what the system resolver reads as an IPv4 address.</summary>
    [GeneratedRegex(@"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$", RegexOptions.IgnoreCase)]
    private static partial Regex NumericHost();

    [GeneratedRegex(@"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$")]
    private static partial Regex CanonicalIPv4();
}
