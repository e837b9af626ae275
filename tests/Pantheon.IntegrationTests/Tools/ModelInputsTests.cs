using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Tools;

/// <summary>
/// Which models an agent's screenshot reaches as an image: what a custom model's user declared, what OpenRouter's catalogue
/// says of its models, and <c>Chat:TextOnlyModels</c> for the rest, or for all when the catalogue cannot be read.
/// </summary>
[Collection(ToolsCollection.Name)]
public class ModelInputsTests(ToolsFixture tools)
{
    private const string NotShown = "screenshot returned a 1024x768 image/png image, not shown: this model does not take images.";

    private FakeProvider Fake => tools.Fake;
    private IAlbaHost Host => tools.Host;

    [Fact]
    public async Task a_custom_model_declared_text_only_reads_about_the_screenshot_and_one_declared_with_image_sees_it()
    {
        var project = await tools.ProjectAsync();
        var endpoint = Fake.BaseUrl.ToString().TrimEnd('/') + "/v1";
        var blind = $"blind-{Guid.NewGuid():N}";
        var seeing = $"seeing-{Guid.NewGuid():N}";
        var added = await (await Host.Send(HttpMethod.Post, "/api/user/models", project.Token,
            new { model_id = blind, provider = "openai-compatible", endpoint, input_modalities = new[] { "text" } }, status: 201))
            .ReadAsJsonAsync<JsonElement>();
        added.GetProperty("input_modalities").EnumerateArray().Select(m => m.GetString()).ShouldBe(["text"]);
        await Host.Send(HttpMethod.Post, "/api/user/models", project.Token,
            new { model_id = seeing, provider = "openai-compatible", endpoint, input_modalities = new[] { "image", "text" } }, status: 201);

        var toBlind = await ScreenshotTurn(project, blind);
        HasImage(toBlind).ShouldBeFalse(string.Join('\n', toBlind));
        ToolResult(toBlind).ShouldContain(NotShown);

        var toSeeing = await ScreenshotTurn(project, seeing);
        HasImage(toSeeing).ShouldBeTrue(string.Join('\n', toSeeing));
        ToolResult(toSeeing).ShouldNotContain("not shown");
    }

    [Fact]
    public async Task an_openrouter_model_its_catalogue_lists_as_text_only_reads_about_the_screenshot_and_the_catalogue_is_read_once()
    {
        var project = await tools.ProjectAsync();
        // Not in Chat:TextOnlyModels: only OpenRouter's catalogue says that it takes text only.
        var toMistral = await ScreenshotTurn(project, "openrouter/mistralai/mistral-7b-instruct");
        Fake.Requests.ShouldAllBe(r => r.Path == "/api/v1/chat/completions");
        HasImage(toMistral).ShouldBeFalse(string.Join('\n', toMistral));
        ToolResult(toMistral).ShouldContain(NotShown);
        var reads = Fake.CatalogueReads;
        reads.ShouldBeGreaterThan(0);

        var toGpt = await ScreenshotTurn(project, "openrouter/openai/gpt-4o");
        HasImage(toGpt).ShouldBeTrue(string.Join('\n', toGpt));
        Fake.CatalogueReads.ShouldBe(reads); // kept for Chat:CatalogueRefreshMinutes, not read per turn
    }

    [Fact]
    public async Task when_the_catalogue_cannot_be_read_chat_text_only_models_decides_and_a_warning_says_so_once()
    {
        var project = await tools.ProjectAsync();
        await using var openRouter = await FakeProvider.StartAsync();
        openRouter.CatalogueStatus = 503;
        var settings = TestSettings.Base();
        settings["Chat:BaseUrls:openrouter"] = openRouter.BaseUrl.ToString().TrimEnd('/') + "/api/v1";
        settings["Chat:ToolsUrl"] = $"http://127.0.0.1:{tools.Port}/";
        settings["Chat:TimeoutSeconds"] = "60";
        settings["OPENROUTER_API_KEY"] = AppFixture.SystemOpenRouterKey;
        // The catalogue would give gpt-4o the image and not mistral; without it, the setting's word is all there is.
        settings["Chat:TextOnlyModels:0"] = "openrouter/openai/gpt-4o";
        var logs = new LogCapture();
        await using var host = await AppFixture.StartAsync(settings, logs);

        var toGpt = await ScreenshotTurn(project, "openrouter/openai/gpt-4o", host, openRouter);
        HasImage(toGpt).ShouldBeFalse(string.Join('\n', toGpt));
        ToolResult(toGpt).ShouldContain(NotShown);
        var toMistral = await ScreenshotTurn(project, "openrouter/mistralai/mistral-7b-instruct", host, openRouter);
        HasImage(toMistral).ShouldBeTrue(string.Join('\n', toMistral));

        openRouter.CatalogueReads.ShouldBe(1); // tried again only a minute after it failed
        logs.Lines.Where(l => l.StartsWith("Warning") && l.Contains("model catalogue could not be read")).ShouldHaveSingleItem()
            .ShouldContain("Chat:TextOnlyModels");
    }

    /// <summary>An agent turn on <paramref name="model"/> that takes one screenshot; the messages of its last model call.</summary>
    private async Task<List<JsonElement>> ScreenshotTurn(
        DesktopProject project, string model, IAlbaHost? host = null, FakeProvider? fake = null)
    {
        (host, fake) = (host ?? Host, fake ?? Fake);
        fake.Behavior = new FakeBehavior();
        fake.Requests.Clear();
        fake.Scripted(ScriptedRound.Call("screenshot", new { }), new ScriptedRound("Done looking."));
        var reply = await (await host.Send(HttpMethod.Post, "/api/chat", project.Token,
            new { message = "look", model, project_id = project.Id, tools = true })).ReadAsJsonAsync<JsonElement>();
        reply.GetProperty("reply").GetString().ShouldBe("Done looking.");
        fake.Requests.Count.ShouldBe(2);
        return [.. fake.Requests.Last().Body.GetProperty("messages").EnumerateArray()];
    }

    private static bool HasImage(List<JsonElement> messages) => messages.Any(m =>
        m.TryGetProperty("content", out var parts) && parts.ValueKind == JsonValueKind.Array
        && parts.EnumerateArray().Any(p => p.GetProperty("type").GetString() == "image_url"));

    private static string ToolResult(List<JsonElement> messages) =>
        messages.Single(m => m.GetProperty("role").GetString() == "tool").GetProperty("content").GetString()!;
}
