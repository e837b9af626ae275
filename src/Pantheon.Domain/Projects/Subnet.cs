using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pantheon.Domain.Projects;

/// <summary>
/// A project's /24. Addresses follow the product's layout: <c>.1</c> tools API, <c>.2</c> VM, <c>.3</c> backend,
/// <c>.20</c> shared-folder server, <c>.254</c> gateway.
/// Events store it as its CIDR string (<see cref="CidrConverter"/>), so the string is parsed here and nowhere else.
/// </summary>
[JsonConverter(typeof(CidrConverter))]
public readonly record struct Subnet(uint NetworkAddress)
{
    public string Cidr => $"{Format(NetworkAddress)}/24";
    public string Gateway => Host(254);
    public string ToolsApi => Host(1);
    public string Vm => Host(2);
    public string Backend => Host(3);
    public string SharedFolder => Host(20);
    public string ToolsApiUrl => $"http://{ToolsApi}:8090";
    public string SharedFolderUrl => $"http://{SharedFolder}:8888/";

    public string Host(int host) => Format(NetworkAddress + (uint)host);

    public static Subnet Parse(string cidr)
    {
        var (address, prefix) = SubnetPool.ParseCidr(cidr);
        if (prefix != 24) throw new FormatException($"'{cidr}' is not a /24.");
        return new Subnet(address);
    }

    public override string ToString() => Cidr;

    /// <summary>A subnet in JSON is its CIDR, <c>"172.30.4.0/24"</c>: what events written before the value type hold.</summary>
    public sealed class CidrConverter : JsonConverter<Subnet>
    {
        public override Subnet Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Parse(reader.GetString() ?? throw new JsonException("A subnet is a CIDR string."));

        public override void Write(Utf8JsonWriter writer, Subnet value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.Cidr);
    }

    internal static string Format(uint address) => new IPAddress([(byte)(address >> 24), (byte)(address >> 16), (byte)(address >> 8), (byte)address]).ToString();
}

/// <summary>The pool project subnets come from (<c>Projects:SubnetPool</c>, default 172.30.0.0/16).</summary>
public sealed class SubnetPool
{
    private readonly uint _first;
    private readonly int _count;

    public SubnetPool(string cidr)
    {
        var (address, prefix) = ParseCidr(cidr);
        if (prefix > 24) throw new FormatException($"Subnet pool '{cidr}' is smaller than one /24.");
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        _first = address & mask;
        _count = 1 << (24 - prefix);
        Cidr = cidr;
    }

    public string Cidr { get; }

    /// <summary>Every /24 of the pool, lowest first.</summary>
    public IEnumerable<Subnet> All() => Enumerable.Range(0, _count).Select(i => new Subnet(_first + ((uint)i << 8)));

    /// <summary>The lowest /24 that is neither leased nor overlapping a network the engine already has.</summary>
    public Subnet? FirstFree(IEnumerable<string> leased, IEnumerable<string> usedByEngine) =>
        Free(leased, usedByEngine).Cast<Subnet?>().FirstOrDefault();

    /// <summary>Every /24 that is neither leased nor overlapping a network the engine already has, lowest first.</summary>
    public IEnumerable<Subnet> Free(IEnumerable<string> leased, IEnumerable<string> usedByEngine)
    {
        var taken = leased.ToHashSet(StringComparer.Ordinal);
        var used = usedByEngine.Select(c => TryParseCidr(c, out var u) ? u : ((uint, int)?)null).OfType<(uint Address, int Prefix)>().ToList();
        return All().Where(subnet => !taken.Contains(subnet.Cidr)
            && !used.Any(u => Overlaps(subnet.NetworkAddress, 24, u.Address, u.Prefix)));
    }

    /// <summary>False for anything but an IPv4 CIDR (an engine's IPv6 networks cannot collide with the pool).</summary>
    public static bool TryParseCidr(string cidr, out (uint Address, int Prefix) parsed)
    {
        try
        {
            parsed = ParseCidr(cidr);
            return true;
        }
        catch (FormatException)
        {
            parsed = default;
            return false;
        }
    }

    public static (uint Address, int Prefix) ParseCidr(string cidr)
    {
        var parts = cidr.Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(parts[1], out var prefix) || prefix is < 0 or > 32)
            throw new FormatException($"'{cidr}' is not an IPv4 CIDR.");
        var b = ip.GetAddressBytes();
        return ((uint)b[0] << 24 | (uint)b[1] << 16 | (uint)b[2] << 8 | b[3], prefix);
    }

    private static bool Overlaps(uint a, int aPrefix, uint b, int bPrefix)
    {
        var prefix = Math.Min(aPrefix, bPrefix);
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        return (a & mask) == (b & mask);
    }
}
