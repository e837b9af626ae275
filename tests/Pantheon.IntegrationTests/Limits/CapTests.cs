using System.Text.Json;
using Alba;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Live;
using Pantheon.IntegrationTests.Projects;
using Pantheon.TestSupport;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.Keys;

namespace Pantheon.IntegrationTests.Limits;

[Collection(CapsCollection.Name)]
public class CapTests(CapsFixture fixture)
{
    private IAlbaHost Host => fixture.Host;

    [Fact]
    public async Task ten_creates_at_once_end_with_the_default_five_live_projects_and_deleting_one_frees_a_place()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            Host.Try(HttpMethod.Post, "/api/projects", token, new { name = $"capped {i}", os = "windows-11" })));

        var created = new List<Guid>();
        foreach (var answer in answers.Where(a => a.Context.Response.StatusCode == 202))
            created.Add((await answer.ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        created.Count.ShouldBe(5);
        var refused = answers.Where(a => a.Context.Response.StatusCode != 202).ToList();
        refused.Count.ShouldBe(5);
        foreach (var answer in refused) answer.ShouldNameLimit(409, "Limits:ProjectsPerUser", 5);
        (await Host.List(token)).Select(p => p.Id).Order().ShouldBe(created.Order());

        // Deleted once it is ready: the fixture removes the machines of the rest.
        await Host.WaitFor(token, created[0], ProjectStatus.Ready);
        await Host.Send(HttpMethod.Delete, $"/api/projects/{created[0]}", token, status: 202);
        await Host.Create(token, "after a deletion");
        (await Host.Try(HttpMethod.Post, "/api/projects", token, new { name = "one too many" }))
            .ShouldNameLimit(409, "Limits:ProjectsPerUser", 5);
    }

    [Fact]
    public async Task keys_added_at_once_stop_at_the_configured_cap_and_revoking_one_frees_a_place()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var answers = await Task.WhenAll(Enumerable.Range(0, 2 * CapsFixture.Keys).Select(i =>
            Host.Try(HttpMethod.Post, "/api/user/api-keys", token, Key($"key {i}", $"sk-capped-key-{i:D4}"))));

        answers.Count(a => a.Context.Response.StatusCode == 201).ShouldBe(CapsFixture.Keys);
        foreach (var answer in answers.Where(a => a.Context.Response.StatusCode != 201))
            answer.ShouldNameLimit(409, "Limits:ApiKeysPerUser", CapsFixture.Keys);
        var keys = (await Host.GetJson<Page<ApiKeyResponse>>("/api/user/api-keys", token)).Items;
        keys.Count.ShouldBe(CapsFixture.Keys);
        // A body that is not valid is a 400 naming the field first, cap or no cap.
        await Host.ShouldRejectField(HttpMethod.Post, "/api/user/api-keys", token,
            """{"name":"x","provider":"acme","key":"sk-1234567890"}""", "provider");

        await Host.Send(HttpMethod.Delete, $"/api/user/api-keys/{keys[0].Id}", token, status: 204);
        await Host.Send(HttpMethod.Post, "/api/user/api-keys", token, Key("again", "sk-capped-key-again"), status: 201);
    }

    private static object Key(string name, string key) => new { name, provider = "openai", key };

    [Fact]
    public async Task custom_models_stop_at_the_configured_cap_and_removing_one_frees_a_place()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        object Model(int i) =>
            new { model_id = $"capped-model-{i}", provider = "openai-compatible", endpoint = "https://models.example.com/v1" };
        var ids = new List<Guid>();
        for (var i = 0; i < CapsFixture.Models; i++)
        {
            var created = await Host.Send(HttpMethod.Post, "/api/user/models", token, Model(i), status: 201);
            ids.Add((await created.ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        }

        (await Host.Try(HttpMethod.Post, "/api/user/models", token, Model(99)))
            .ShouldNameLimit(409, "Limits:CustomModelsPerUser", CapsFixture.Models);
        await Host.Send(HttpMethod.Delete, $"/api/user/models/{ids[0]}", token, status: 204);
        await Host.Send(HttpMethod.Post, "/api/user/models", token, Model(99), status: 201);
    }

    [Fact]
    public async Task chats_past_the_concurrent_cap_are_a_429_while_the_others_run_and_another_user_is_not_held_back()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        // Each chat in a conversation of its own (general, and one per project): the cap, not the conversation, holds them.
        var conversations = new List<object> { new { message = "slow, general", model = LimitedHostFixture.Model } };
        for (var i = 1; i < CapsFixture.Chats; i++)
        {
            var project = await Host.Create(token, $"chatty {i}");
            conversations.Add(new { message = $"slow {i}", model = LimitedHostFixture.Model, project_id = project });
        }
        fixture.Fake.Behavior = new FakeBehavior { Delay = TimeSpan.FromSeconds(4) };
        fixture.Fake.Requests.Clear();
        var running = conversations.Select(body => Host.Try(HttpMethod.Post, "/api/chat", token, body)).ToList();
        try
        {
            await Eventually.Get(() => Task.FromResult(fixture.Fake.Requests.Count), n => n >= CapsFixture.Chats, TimeSpan.FromSeconds(20),
                "the chats to reach the provider");

            var refused = await Host.Try(HttpMethod.Post, "/api/chat", token,
                new { message = "one more", model = LimitedHostFixture.Model });
            refused.ShouldNameLimit(429, "Limits:ConcurrentChatsPerUser", CapsFixture.Chats);
            var other = TestSettings.TokenFor(TestSettings.NewUser());
            (await Host.Try(HttpMethod.Post, "/api/chat", other, new { message = "mine", model = LimitedHostFixture.Model }))
                .Context.Response.StatusCode.ShouldBe(200);
        }
        finally
        {
            foreach (var answer in await Task.WhenAll(running)) answer.Context.Response.StatusCode.ShouldBe(200, answer.ReadAsText());
            fixture.Fake.Behavior = new FakeBehavior();
        }
        (await Host.Try(HttpMethod.Post, "/api/chat", token, new { message = "after", model = LimitedHostFixture.Model }))
            .Context.Response.StatusCode.ShouldBe(200);
    }

    [Fact]
    public async Task sockets_past_the_cap_are_a_429_and_closing_one_frees_a_place()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var open = new List<LiveClient>();
        try
        {
            for (var i = 0; i < CapsFixture.Sockets; i++) open.Add(await (await LiveClient.ConnectAsync(Host, token)).Subscribe());

            (await Host.Try(HttpMethod.Get, "/ws", token)).ShouldNameLimit(429, "Limits:WebSocketsPerUser", CapsFixture.Sockets);
            await Should.ThrowAsync<InvalidOperationException>(() => LiveClient.ConnectAsync(Host, token));
            open.Add(await (await LiveClient.ConnectAsync(Host, TestSettings.TokenFor(TestSettings.NewUser()))).Subscribe());

            await open[0].DisposeAsync();
            open.RemoveAt(0);
            // A plain GET past the cap check is a 400 (not a WebSocket request): a place is free again.
            await Eventually.Get(async () => (await Host.Try(HttpMethod.Get, "/ws", token)).Context.Response.StatusCode, s => s == 400,
                TimeSpan.FromSeconds(10), "the closed socket's place to be given back");
            open.Add(await (await LiveClient.ConnectAsync(Host, token)).Subscribe());
        }
        finally
        {
            foreach (var client in open) await client.DisposeAsync();
        }
    }
}
