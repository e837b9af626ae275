using System.Net;
using System.Text.Json;
using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Chat;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Projections.Chat;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>A backend with <c>Chat:AllowedPrivateNetworks</c> empty, the production default.</summary>
public sealed class NoPrivateNetworksFixture : IAsyncLifetime
{
    public IAlbaHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureCreatedAsync();
        Host = await AppFixture.StartAsync(TestSettings.Base());
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// Custom endpoints cannot reach inside the network. Every destination here is a loopback form, aimed at a listener of
/// the test's own, which proves that nothing connected; other ranges are the address classifier's unit tests.
/// </summary>
public class DestinationTests(NoPrivateNetworksFixture fixture) : IClassFixture<NoPrivateNetworksFixture>
{
    private IAlbaHost Host => fixture.Host;

    public static TheoryData<string> LiteralLoopbackHosts() =>
        ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "[::1]", "[::ffff:127.0.0.1]"];

    [Theory]
    [MemberData(nameof(LiteralLoopbackHosts))]
    [InlineData("0177.0.0.1")]
    public async Task registering_an_endpoint_with_a_loopback_literal_or_numeric_host_is_a_field_error(string host)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        foreach (var scheme in new[] { "https", "http" })
        {
            var endpoint = $"{scheme}://{host}:8443/v1";
            var body = JsonSerializer.Serialize(new { model_id = "m", provider = "openai-compatible", endpoint });
            await Host.ShouldRejectField(HttpMethod.Post, "/api/user/models", token, body, "endpoint");
        }
        (await Host.GetJson<JsonElement>("/api/user/models", token)).GetProperty("items").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task plain_http_to_localhost_is_refused_without_an_allowed_loopback()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var body = JsonSerializer.Serialize(new { model_id = "m", provider = "openai-compatible", endpoint = "http://localhost:11434/v1" });
        await Host.ShouldRejectField(HttpMethod.Post, "/api/user/models", token, body, "endpoint");
    }

    [Theory]
    [MemberData(nameof(LiteralLoopbackHosts))]
    public async Task a_stored_endpoint_at_a_loopback_form_is_refused_at_connect_time_and_nothing_connects(string host)
    {
        // A model stored before these rules (or under a wider allowance) meets the connect-time check.
        using var listener = new LoopbackListener(host == "[::1]" ? IPAddress.IPv6Loopback : IPAddress.Loopback);
        var user = TestSettings.NewUser();
        var modelId = $"inside-{Guid.NewGuid():N}";
        await using (var session = Host.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            var id = Guid.CreateVersion7();
            session.Events.StartStream<CustomModelView>(id, new CustomModelAdded(id, user, modelId, "openai-compatible",
                $"http://{host}:{listener.Port}/v1", null, null, DateTimeOffset.UtcNow));
            await session.SaveChangesAsync();
        }

        await ChatIsRefused(TestSettings.TokenFor(user), modelId);
        listener.AnyoneConnected.ShouldBeFalse($"something connected to {host}");
    }

    [Fact]
    public async Task a_name_that_resolves_to_loopback_passes_registration_and_is_refused_at_connect_time()
    {
        using var listener = new LoopbackListener(IPAddress.Loopback);
        using var listener6 = new LoopbackListener(IPAddress.IPv6Loopback);
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await Host.Send(HttpMethod.Post, "/api/user/models", token,
            new { model_id = "named", provider = "openai-compatible", endpoint = $"https://localhost:{listener.Port}/v1" }, status: 201);

        await ChatIsRefused(token, "named");
        listener.AnyoneConnected.ShouldBeFalse();
        listener6.AnyoneConnected.ShouldBeFalse();
    }

    private async Task ChatIsRefused(string token, string model)
    {
        var result = await Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hello", model }, status: 502);
        var problem = await result.ReadAsJsonAsync<JsonElement>();
        var detail = problem.GetProperty("detail").GetString()!;
        detail.ShouldContain(DestinationPolicy.NotAllowed);
        detail.ShouldNotContain("refused", Case.Insensitive);
        detail.ShouldNotContain("127.0.0.1");
    }
}
