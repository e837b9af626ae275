using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>A user's settings, keys and models are kept in memory between turns: a change made through any backend
/// process must reach every process's next turn.</summary>
[Collection(AppCollection.Name)]
public class ChatSetupCacheTests(AppFixture app)
{
    [Fact]
    public async Task a_key_added_and_revoked_through_another_backend_process_is_seen_by_the_next_turn_here()
    {
        app.Fake.Behavior = new FakeBehavior();
        var settings = TestSettings.Base();
        settings["Chat:BaseUrls:openai"] = app.Fake.BaseUrl.ToString().TrimEnd('/') + "/v1";
        await using var other = await AppFixture.StartAsync(settings);
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var chat = new { message = "hi", model = "openai/gpt-4o" };

        await app.Host.Send(HttpMethod.Post, "/api/chat", token, chat, status: 422); // this process now knows the user has no key

        var key = $"sk-added-elsewhere-{Guid.NewGuid():N}";
        var added = await other.Send(HttpMethod.Post, "/api/user/api-keys", token, new { name = "elsewhere", provider = "openai", key }, status: 201);
        var keyId = (await added.ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await Eventually.Get(() => StatusOf(token, chat), status => status == 200, TimeSpan.FromSeconds(10), "the key added elsewhere to be used");
        app.Fake.Requests.ShouldContain(r => r.Headers["authorization"] == $"Bearer {key}");

        await other.Send(HttpMethod.Delete, $"/api/user/api-keys/{keyId}", token, status: 204);
        await Eventually.Get(() => StatusOf(token, chat), status => status == 422, TimeSpan.FromSeconds(10), "the key revoked elsewhere to be gone");
    }

    private async Task<int> StatusOf(string token, object body)
    {
        var result = await app.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Post.Json(body).ToUrl("/api/chat");
            x.IgnoreStatusCode();
        });
        return result.Context.Response.StatusCode;
    }
}
