using System.Net;
using Pantheon.Domain.Chat;

namespace Pantheon.Domain.Tests.Chat;

/// <summary>The address classifier alone: nothing here opens a socket.</summary>
public class DestinationPolicyTests
{
    private static readonly DestinationPolicy Strict = DestinationPolicy.From([]);
    private static readonly DestinationPolicy LoopbackAllowed = DestinationPolicy.From(["127.0.0.0/8", "::1/128"]);

    [Theory]
    [InlineData("0.0.0.0", AddressKind.Unspecified)]
    [InlineData("0.1.2.3", AddressKind.Unspecified)]
    [InlineData("127.0.0.1", AddressKind.Loopback)]
    [InlineData("127.255.255.254", AddressKind.Loopback)]
    [InlineData("10.0.0.1", AddressKind.Private)]
    [InlineData("172.16.0.1", AddressKind.Private)]
    [InlineData("172.31.255.255", AddressKind.Private)]
    [InlineData("192.168.1.1", AddressKind.Private)]
    [InlineData("169.254.169.254", AddressKind.LinkLocal)]
    [InlineData("100.64.0.1", AddressKind.CarrierGradeNat)]
    [InlineData("100.127.255.255", AddressKind.CarrierGradeNat)]
    [InlineData("224.0.0.1", AddressKind.Multicast)]
    [InlineData("239.255.255.250", AddressKind.Multicast)]
    [InlineData("255.255.255.255", AddressKind.Broadcast)]
    [InlineData("240.0.0.1", AddressKind.Reserved)]
    [InlineData("192.0.2.1", AddressKind.Reserved)]
    [InlineData("198.18.0.1", AddressKind.Reserved)]
    [InlineData("::", AddressKind.Unspecified)]
    [InlineData("::1", AddressKind.Loopback)]
    [InlineData("fe80::1", AddressKind.LinkLocal)]
    [InlineData("febf::1", AddressKind.LinkLocal)]
    [InlineData("fec0::1", AddressKind.Private)]
    [InlineData("fc00::1", AddressKind.UniqueLocal)]
    [InlineData("fd12:3456::1", AddressKind.UniqueLocal)]
    [InlineData("ff02::1", AddressKind.Multicast)]
    [InlineData("2001:db8::1", AddressKind.Reserved)]
    [InlineData("::ffff:127.0.0.1", AddressKind.Loopback)]
    [InlineData("::ffff:10.1.2.3", AddressKind.Private)]
    [InlineData("::ffff:169.254.169.254", AddressKind.LinkLocal)]
    [InlineData("::ffff:100.64.0.1", AddressKind.CarrierGradeNat)]
    [InlineData("::ffff:0.0.0.0", AddressKind.Unspecified)]
    [InlineData("::ffff:224.0.0.1", AddressKind.Multicast)]
    [InlineData("::127.0.0.1", AddressKind.Loopback)]
    [InlineData("::10.1.2.3", AddressKind.Private)]
    [InlineData("::192.168.0.1", AddressKind.Private)]
    [InlineData("::169.254.0.1", AddressKind.LinkLocal)]
    [InlineData("64:ff9b::10.0.0.1", AddressKind.Private)]
    [InlineData("2002:7f00:1::", AddressKind.Loopback)]
    [InlineData("2002:a9fe:a9fe::", AddressKind.LinkLocal)]
    public void addresses_inside_a_network_are_classified(string address, AddressKind kind)
    {
        DestinationPolicy.Classify(IPAddress.Parse(address)).ShouldBe(kind);
        Strict.IsAllowed(IPAddress.Parse(address)).ShouldBeFalse();
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("100.128.0.1")]
    [InlineData("172.32.0.1")]
    [InlineData("192.169.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    public void public_addresses_are_allowed(string address)
    {
        DestinationPolicy.Classify(IPAddress.Parse(address)).ShouldBe(AddressKind.Public);
        Strict.IsAllowed(IPAddress.Parse(address)).ShouldBeTrue();
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("::127.0.0.1", true)]
    [InlineData("10.0.0.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    public void the_allowed_private_networks_open_only_themselves(string address, bool allowed)
    {
        LoopbackAllowed.IsAllowed(IPAddress.Parse(address)).ShouldBe(allowed);
    }

    [Theory]
    [InlineData("https://127.0.0.1/v1")]
    [InlineData("https://127.1/v1")]
    [InlineData("https://2130706433/v1")]
    [InlineData("https://0x7f000001/v1")]
    [InlineData("https://0x7f.0.0.1/v1")]
    [InlineData("https://0177.0.0.1/v1")]
    [InlineData("https://[::1]/v1")]
    [InlineData("https://[::ffff:127.0.0.1]/v1")]
    [InlineData("https://[::ffff:7f00:1]/v1")]
    [InlineData("https://10.0.0.5/v1")]
    [InlineData("https://169.254.169.254/latest/meta-data")]
    [InlineData("https://100.64.0.1/v1")]
    [InlineData("https://0.0.0.0/v1")]
    [InlineData("https://[fd00::1]/v1")]
    [InlineData("https://[fe80::1]/v1")]
    [InlineData("https://user:pass@10.0.0.5:8443/v1")]
    [InlineData("https://167772165/v1")]
    [InlineData("http://models.example/v1")]
    [InlineData("http://localhost:11434/v1")]
    [InlineData("ftp://models.example/v1")]
    [InlineData("not a url")]
    [InlineData("")]
    [InlineData(null)]
    public void endpoints_inside_the_network_or_not_https_are_refused_at_registration(string? endpoint)
    {
        Strict.CheckEndpoint(endpoint).ShouldNotBeNull();
    }

    [Theory]
    [InlineData("https://models.example/v1")]
    [InlineData("https://api.example.com:8443/openai/v1")]
    [InlineData("https://8.8.8.8/v1")]
    [InlineData("https://localhost:8443/v1")] // a name: checked when it is resolved, at connect time
    public void public_https_endpoints_and_names_pass_registration(string endpoint)
    {
        Strict.CheckEndpoint(endpoint).ShouldBeNull();
    }

    [Theory]
    [InlineData("http://127.0.0.1:11434/v1")]
    [InlineData("http://localhost:11434/v1")]
    [InlineData("http://[::1]:11434/v1")]
    public void local_models_over_http_pass_when_loopback_is_allowed(string endpoint)
    {
        LoopbackAllowed.CheckEndpoint(endpoint).ShouldBeNull();
    }

    [Theory]
    [InlineData("http://127.1:11434/v1")]
    [InlineData("http://2130706433:11434/v1")]
    [InlineData("http://10.0.0.5/v1")]
    public void numeric_forms_and_other_private_ranges_stay_refused_when_loopback_is_allowed(string endpoint)
    {
        LoopbackAllowed.CheckEndpoint(endpoint).ShouldNotBeNull();
    }

    [Fact]
    public void a_bad_cidr_is_refused_with_the_settings_name()
    {
        Should.Throw<InvalidOperationException>(() => DestinationPolicy.From(["not-a-cidr"]))
            .Message.ShouldContain("Chat:AllowedPrivateNetworks");
    }
}
