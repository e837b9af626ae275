using System.Net;
using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>Custom endpoints on loopback, which this host allows (<c>Chat:AllowedPrivateNetworks</c> = 127.0.0.0/8).</summary>
[Collection(AppCollection.Name)]
public class CustomEndpointTests(AppFixture app)
{
    private const string Model = "local-model";

    [Fact]
    public async Task a_custom_endpoint_is_not_followed_through_a_redirect()
    {
        using var endpoint = new LoopbackListener(IPAddress.Loopback);
        using var target = new LoopbackListener(IPAddress.Loopback);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var redirecting = endpoint.RedirectOnceAsync($"http://127.0.0.1:{target.Port}/v1/chat/completions", stop.Token);
        var token = await WithModel($"http://127.0.0.1:{endpoint.Port}/v1");

        var result = await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hello", model = Model }, status: 502);
        await redirecting;
        (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("detail").GetString()!.ShouldContain("307");
        target.AnyoneConnected.ShouldBeFalse("the redirect was followed");
    }

    [Fact]
    public async Task a_failed_connect_answers_502_without_the_sockets_text()
    {
        int closedPort;
        using (var probe = new LoopbackListener(IPAddress.Loopback)) closedPort = probe.Port;
        var token = await WithModel($"http://127.0.0.1:{closedPort}/v1");

        var result = await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hello", model = Model }, status: 502);
        var detail = (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
        detail.ShouldBe("custom could not be reached.");
    }

    private async Task<string> WithModel(string endpoint)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.Send(HttpMethod.Post, "/api/user/models", token,
            new { model_id = Model, provider = "openai-compatible", endpoint }, status: 201);
        return token;
    }
}
