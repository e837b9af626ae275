using System.Text.Json;
using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.Domain.Chat;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Projections.Chat;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Chat;

/// <summary>
/// What a model takes as input, as the API shows it: a custom model's declared <c>input_modalities</c>, OpenRouter's catalogue
/// for the configured models it serves.
/// </summary>
[Collection(AppCollection.Name)]
public class CustomModelInputsTests(AppFixture app)
{
    private string Endpoint => app.Fake.BaseUrl.ToString().TrimEnd('/') + "/v1";

    [Theory]
    [InlineData("""["text","audio"]""")]
    [InlineData("""["image"]""")]
    [InlineData("""[]""")]
    [InlineData("""["text",null]""")]
    [InlineData("""["TEXT"]""")]
    public async Task input_modalities_other_than_text_and_image_or_without_text_are_a_field_error(string modalities)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.ShouldRejectField(HttpMethod.Post, "/api/user/models", token,
            $$"""{"model_id":"m","provider":"openai-compatible","endpoint":"{{Endpoint}}","input_modalities":{{modalities}}}""",
            "input_modalities");
        (await app.Host.GetJson<JsonElement>("/api/user/models", token)).GetProperty("items").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task declared_input_modalities_are_kept_and_shown_and_undeclared_ones_are_null()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var created = await (await app.Host.Send(HttpMethod.Post, "/api/user/models", token,
            new
            {
                model_id = "seeing", provider = "openai-compatible", endpoint = Endpoint,
                input_modalities = new[] { "image", "text", "image" },
            }, status: 201)).ReadAsJsonAsync<JsonElement>();
        Modalities(created).ShouldBe(["text", "image"]);
        await app.Host.Send(HttpMethod.Post, "/api/user/models", token,
            new { model_id = "undeclared", provider = "openai-compatible", endpoint = Endpoint }, status: 201);

        var listed = (await app.Host.GetJson<JsonElement>("/api/user/models", token)).GetProperty("items").EnumerateArray().ToList();
        Modalities(listed.Single(m => m.GetProperty("model_id").GetString() == "seeing")).ShouldBe(["text", "image"]);
        Modalities(listed.Single(m => m.GetProperty("model_id").GetString() == "undeclared")).ShouldBeNull();

        var models = (await app.Host.GetJson<JsonElement>("/api/models", token)).EnumerateArray().ToList();
        Modalities(models.Single(m => m.GetProperty("id").GetString() == "seeing")).ShouldBe(["text", "image"]);
        Modalities(models.Single(m => m.GetProperty("id").GetString() == "undeclared")).ShouldBeNull();
    }

    [Fact]
    public async Task the_configured_models_openrouter_serves_show_what_its_catalogue_says_and_the_others_nothing()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        // The list never waits for the catalogue: its first read starts with a list, and a later list shows it.
        var models = await Eventually.Get(async () => (await app.Host.GetJson<JsonElement>("/api/models", token)).EnumerateArray().ToList(),
            list => Modalities(list.Single(m => m.GetProperty("id").GetString() == "openrouter/openai/gpt-4o-mini")) is not null,
            TimeSpan.FromSeconds(15), "OpenRouter's catalogue to be read");
        List<string?>? Of(string id) => Modalities(models.Single(m => m.GetProperty("id").GetString() == id));
        Of("openrouter/openai/gpt-4o-mini").ShouldBe(["text", "image", "file"]);
        Of("openrouter/meta-llama/llama-3.1-70b-instruct").ShouldBe(["text"]);
        Of("openai/gpt-4o").ShouldBeNull(); // OpenAI's own API has no such catalogue
    }

    [Fact]
    public async Task the_catalogue_is_read_again_once_chat_catalogue_refresh_minutes_have_passed()
    {
        await using var openRouter = await FakeProvider.StartAsync();
        var settings = TestSettings.Base();
        settings["Chat:BaseUrls:openrouter"] = openRouter.BaseUrl.ToString().TrimEnd('/') + "/api/v1";
        settings["Chat:CatalogueRefreshMinutes"] = "0"; // due again at once: each list starts a read, and shows the one in hand
        await using var host = await AppFixture.StartAsync(settings);
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        async Task<List<string?>?> Mini() => Modalities((await host.GetJson<JsonElement>("/api/models", token)).EnumerateArray()
            .Single(m => m.GetProperty("id").GetString() == "openrouter/openai/gpt-4o-mini"));

        (await Eventually.Get(Mini, m => m is not null, TimeSpan.FromSeconds(15), "the catalogue to be read"))
            .ShouldBe(["text", "image", "file"]);
        openRouter.Catalogue = [new CatalogueModel("openai/gpt-4o-mini", "text")];
        await Eventually.Get(Mini, m => m is ["text"], TimeSpan.FromSeconds(15), "the changed catalogue to be read");
        openRouter.CatalogueReads.ShouldBeGreaterThan(1);
    }

    [Fact]
    public async Task a_custom_model_recorded_before_input_modalities_existed_still_loads_as_undeclared()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = (await (await app.Host.Send(HttpMethod.Post, "/api/user/models", token,
            new { model_id = "old", provider = "openai-compatible", endpoint = Endpoint, input_modalities = new[] { "text" } },
            status: 201)).ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        // The event as an earlier version wrote it: no InputModalities member at all.
        var schema = app.Host.Services.GetRequiredService<IDocumentStore>().Options.DatabaseSchemaName;
        await using (var db = new NpgsqlConnection(TestDatabase.ConnectionString))
        {
            await db.OpenAsync();
            await using var strip = new NpgsqlCommand(
                $"update {schema}.mt_events set data = data - 'InputModalities' where stream_id = @id and type = 'custom_model_added'", db);
            strip.Parameters.AddWithValue("id", id);
            (await strip.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        await using var session = app.Host.DocumentStore().LightweightSession();
        var added = (await session.Events.FetchStreamAsync(id)).Single().Data.ShouldBeOfType<CustomModelAdded>();
        added.ModelId.ShouldBe("old");
        added.InputModalities.ShouldBeNull();
        (await session.Events.AggregateStreamAsync<CustomModelView>(id))!.InputModalities.ShouldBeNull();
    }

    private static List<string?>? Modalities(JsonElement model) =>
        model.GetProperty("input_modalities") is { ValueKind: JsonValueKind.Array } array
            ? [.. array.EnumerateArray().Select(m => m.GetString())]
            : null;
}
