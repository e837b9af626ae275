using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Users;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Settings;

[Collection(AppCollection.Name)]
public class SettingsTests(AppFixture app)
{
    [Fact]
    public async Task a_new_user_gets_the_defaults()
    {
        var settings = await app.Host.GetJson<JsonElement>("/api/user/settings", TestSettings.TokenFor(TestSettings.NewUser()));
        settings.GetProperty("preferred_model").GetString().ShouldBe("openrouter/openai/gpt-4o-mini");
        settings.GetProperty("model_parameters").GetProperty("temperature").GetDouble().ShouldBe(0.7);
        settings.GetProperty("model_parameters").GetProperty("max_tokens").GetInt32().ShouldBe(2000);
    }

    [Fact]
    public async Task changed_settings_are_read_back_with_every_allowed_parameter()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token, new
        {
            preferred_model = "anthropic/claude-3-5-sonnet-latest",
            model_parameters = new { temperature = 1.5, max_tokens = 4096, top_p = 0.9, stop = new[] { "END" } },
        });

        var settings = await app.Host.GetJson<JsonElement>("/api/user/settings", token);
        settings.GetProperty("preferred_model").GetString().ShouldBe("anthropic/claude-3-5-sonnet-latest");
        var parameters = settings.GetProperty("model_parameters");
        parameters.GetProperty("temperature").GetDouble().ShouldBe(1.5);
        parameters.GetProperty("max_tokens").GetInt32().ShouldBe(4096);
        parameters.GetProperty("top_p").GetDouble().ShouldBe(0.9);
        parameters.GetProperty("stop")[0].GetString().ShouldBe("END");
    }

    [Fact]
    public async Task an_absent_field_keeps_its_value_and_an_unchanged_put_records_nothing()
    {
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token, new { preferred_model = "openai/gpt-4o" });
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token, new { model_parameters = new { temperature = 0.1 } });
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token, new { preferred_model = "openai/gpt-4o" });

        var settings = await app.Host.GetJson<JsonElement>("/api/user/settings", token);
        settings.GetProperty("preferred_model").GetString().ShouldBe("openai/gpt-4o");
        settings.GetProperty("model_parameters").GetProperty("temperature").GetDouble().ShouldBe(0.1);

        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        (await session.Events.FetchStreamAsync(UserId.SettingsStreamFor(user))).Count.ShouldBe(2);
    }

    public static TheoryData<string, string> InvalidSettings() => new()
    {
        { """{"model_parameters":{"temperature":2.5}}""", "model_parameters.temperature" },
        { """{"model_parameters":{"temperature":-0.1}}""", "model_parameters.temperature" },
        { """{"model_parameters":{"max_tokens":0}}""", "model_parameters.max_tokens" },
        { """{"model_parameters":{"max_tokens":1000001}}""", "model_parameters.max_tokens" },
        { """{"preferred_model":"  "}""", "preferred_model" },
        { """{"preferred_model":"bad model; drop table"}""", "preferred_model" },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public async Task invalid_settings_are_a_400_naming_the_field(string body, string field)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.ShouldRejectField(HttpMethod.Put, "/api/user/settings", token, body, field);

        var settings = await app.Host.GetJson<JsonElement>("/api/user/settings", token);
        settings.GetProperty("updated_at").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task one_user_never_sees_another_users_settings()
    {
        var alice = TestSettings.TokenFor(TestSettings.NewUser("alice"));
        var bob = TestSettings.TokenFor(TestSettings.NewUser("bob"));
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", alice, new { preferred_model = "gemini/gemini-1.5-pro" });

        (await app.Host.GetJson<JsonElement>("/api/user/settings", bob)).GetProperty("preferred_model").GetString()
            .ShouldBe("openrouter/openai/gpt-4o-mini");
        (await app.Host.GetJson<JsonElement>("/api/user/settings", alice)).GetProperty("preferred_model").GetString()
            .ShouldBe("gemini/gemini-1.5-pro");
    }
}
