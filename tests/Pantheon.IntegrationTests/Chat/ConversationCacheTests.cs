using System.Text.Json;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>A conversation's context is kept in memory between turns: turns made through another backend process must
/// reach this process's next turn.</summary>
[Collection(AppCollection.Name)]
public class ConversationCacheTests(AppFixture app)
{
    [Fact]
    public async Task a_turn_made_through_another_backend_process_goes_back_to_the_model_with_the_next_turn_here()
    {
        app.Fake.Behavior = new FakeBehavior();
        var settings = TestSettings.Base();
        settings["Chat:BaseUrls:openrouter"] = app.Fake.BaseUrl.ToString().TrimEnd('/') + "/api/v1";
        settings["OPENROUTER_API_KEY"] = AppFixture.SystemOpenRouterKey;
        await using var other = await AppFixture.StartAsync(settings);
        var token = TestSettings.TokenFor(TestSettings.NewUser());

        await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "first, here", model = "openrouter/x" }, status: 200);
        await other.Send(HttpMethod.Post, "/api/chat", token, new { message = "second, elsewhere", model = "openrouter/x" }, status: 200);

        // The other process's commit is announced, not awaited: each try is a turn here, until one sends the turn made there.
        await Eventually.Get(async () =>
        {
            app.Fake.Requests.Clear();
            await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "next, here", model = "openrouter/x" }, status: 200);
            return Contents(app.Fake.Requests.ShouldHaveSingleItem().Body);
        }, sent => sent.Contains("second, elsewhere"), TimeSpan.FromSeconds(10), "the turn made elsewhere to be sent with the next turn here");

        // And this process's own turns are sent in their order, each once, with their replies.
        app.Fake.Requests.Clear();
        await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "last, here", model = "openrouter/x" }, status: 200);
        var last = Contents(app.Fake.Requests.ShouldHaveSingleItem().Body);
        last.Take(4).ShouldBe(["first, here", "Hello from the fake", "second, elsewhere", "Hello from the fake"]);
        last.Count(c => c == "next, here").ShouldBeGreaterThanOrEqualTo(1);
        last[^1].ShouldBe("last, here");
    }

    private static List<string> Contents(JsonElement body) =>
        body.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString() ?? "").ToList();
}
