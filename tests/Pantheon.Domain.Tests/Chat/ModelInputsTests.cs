using Pantheon.Domain.Chat;
using Pantheon.Domain.Settings;

namespace Pantheon.Domain.Tests.Chat;

public class ModelInputsTests
{
    private static Turn To(string modelId, TurnTarget target) =>
        new(Guid.NewGuid(), Guid.NewGuid(), "u", modelId, target, new ModelParameters(), [], "hi");

    private static readonly TurnTarget Llama = new("openrouter", "meta-llama/llama-3.1-70b-instruct", null, null);
    private static readonly TurnTarget Mistral = new("openrouter", "mistralai/mistral-7b-instruct", null, null);
    private static readonly TurnTarget Gpt4o = new("openai", "gpt-4o", null, null);

    private static TurnTarget Custom(string model, params string[]? declared) =>
        new(Turn.CustomProvider, model, "http://m.test/v1", null, declared);

    private static readonly ModelCatalogue Catalogue = new(new Dictionary<string, IReadOnlyList<string>>
    {
        ["mistralai/mistral-7b-instruct"] = ["text"],
        ["meta-llama/llama-3.1-70b-instruct"] = ["text", "image"], // as if OpenRouter knew better than the setting
        ["openai/gpt-4o"] = ["text", "image", "file"],
    });

    [Fact]
    public void a_listed_model_takes_no_images_by_any_id_that_routes_to_it_and_others_do()
    {
        string[] textOnly = ["openrouter/meta-llama/llama-3.1-70b-instruct", "my-local-model"];
        ModelInputs.TakesImages(To("openrouter/meta-llama/llama-3.1-70b-instruct", Llama), null, textOnly).ShouldBeFalse();
        ModelInputs.TakesImages(To("meta-llama/llama-3.1-70b-instruct", Llama), null, textOnly).ShouldBeFalse();
        ModelInputs.TakesImages(To("openai/gpt-4o", Gpt4o), null, textOnly).ShouldBeTrue();
        // A custom model by its own id; its endpoint's model name routes nowhere.
        ModelInputs.TakesImages(To("my-local-model", Custom("my-local-model", null)), null, textOnly).ShouldBeFalse();
        ModelInputs.TakesImages(To("other", Custom("other", null)), null, textOnly).ShouldBeTrue();
    }

    [Fact]
    public void a_custom_models_declaration_decides_over_the_setting_and_undeclared_keeps_the_setting()
    {
        string[] textOnly = ["my-local-model"];
        ModelInputs.TakesImages(To("my-local-model", Custom("my-local-model", "text", "image")), null, textOnly).ShouldBeTrue();
        ModelInputs.TakesImages(To("seeing", Custom("seeing", "text", "image")), null, []).ShouldBeTrue();
        ModelInputs.TakesImages(To("blind", Custom("blind", "text")), null, []).ShouldBeFalse();
        ModelInputs.TakesImages(To("my-local-model", Custom("my-local-model", null)), null, textOnly).ShouldBeFalse();
        // A custom model is never looked up in OpenRouter's catalogue, even under an id OpenRouter lists.
        ModelInputs.TakesImages(To("mistralai/mistral-7b-instruct", Custom("mistralai/mistral-7b-instruct", null)), Catalogue, [])
            .ShouldBeTrue();
    }

    [Fact]
    public void openrouters_catalogue_decides_for_the_models_it_lists_and_the_setting_for_the_rest()
    {
        ModelInputs.TakesImages(To("openrouter/mistralai/mistral-7b-instruct", Mistral), Catalogue, []).ShouldBeFalse();
        ModelInputs.TakesImages(To("mistralai/mistral-7b-instruct", Mistral), Catalogue, []).ShouldBeFalse(); // a bare id
        ModelInputs.TakesImages(To("openrouter/meta-llama/llama-3.1-70b-instruct", Llama), Catalogue,
            ["openrouter/meta-llama/llama-3.1-70b-instruct"]).ShouldBeTrue();
        var unlisted = new TurnTarget("openrouter", "someone/new-model", null, null);
        ModelInputs.TakesImages(To("openrouter/someone/new-model", unlisted), Catalogue, ["openrouter/someone/new-model"]).ShouldBeFalse();
        ModelInputs.TakesImages(To("openrouter/someone/new-model", unlisted), Catalogue, []).ShouldBeTrue();
        // Without a catalogue (it could not be read) the setting decides.
        ModelInputs.TakesImages(To("openrouter/mistralai/mistral-7b-instruct", Mistral), null, []).ShouldBeTrue();
        ModelInputs.TakesImages(To("openrouter/mistralai/mistral-7b-instruct", Mistral), null, ["mistralai/mistral-7b-instruct"])
            .ShouldBeFalse();
        // Another provider's model is not OpenRouter's, whatever its catalogue says of a model of that name.
        ModelInputs.CatalogueId(Gpt4o).ShouldBeNull();
        ModelInputs.TakesImages(To("openai/gpt-4o", Gpt4o), Catalogue, ["openai/gpt-4o"]).ShouldBeFalse();
    }

    [Fact]
    public void a_configured_model_shows_what_the_catalogue_says_of_it_and_nothing_when_it_says_nothing()
    {
        ModelInputs.Declared("openrouter/openai/gpt-4o", Catalogue).ShouldBe(["text", "image", "file"]);
        ModelInputs.Declared("mistralai/mistral-7b-instruct", Catalogue).ShouldBe(["text"]);
        ModelInputs.Declared("openrouter/someone/new-model", Catalogue).ShouldBeNull();
        ModelInputs.Declared("openai/gpt-4o", Catalogue).ShouldBeNull();
        ModelInputs.Declared("openrouter/openai/gpt-4o", null).ShouldBeNull();
    }

    [Fact]
    public void a_declaration_holds_text_and_image_only_text_among_them_and_is_kept_once_each_in_order()
    {
        ModelInputs.Invalid(null).ShouldBeNull();
        ModelInputs.Invalid(["text"]).ShouldBeNull();
        ModelInputs.Invalid(["image", "text", "image"]).ShouldBeNull();
        ModelInputs.Invalid(["text", "audio"]).ShouldBe("input_modalities may hold only \"text\" and \"image\"; unknown: audio.");
        ModelInputs.Invalid(["text", null]).ShouldBe("input_modalities may hold only \"text\" and \"image\"; unknown: null.");
        ModelInputs.Invalid(["Image", "text"])!.ShouldContain("unknown: Image");
        ModelInputs.Invalid(["image"]).ShouldBe("input_modalities must include \"text\": a chat model takes the message as text.");
        ModelInputs.Invalid([]).ShouldNotBeNull();
        ModelInputs.Normalized(["image", "text", "image"]).ShouldBe(["text", "image"]);
        ModelInputs.Normalized(null).ShouldBeNull();
    }

    [Fact]
    public void an_image_not_shown_is_described_by_its_size_and_type()
    {
        byte[] png = [0x89, .. "PNG\r\n\u001a\n"u8, 0, 0, 0, 13, .. "IHDR"u8, 0, 0, 4, 0, 0, 0, 3, 0, 8, 6, 0, 0, 0];
        ModelInputs.NotShown("screenshot", png, "image/png")
            .ShouldBe("screenshot returned a 1024x768 image/png image, not shown: this model does not take images.");
        ModelInputs.NotShown("screenshot", [1, 2, 3], "image/jpeg")
            .ShouldBe("screenshot returned an image/jpeg image, not shown: this model does not take images.");
    }
}
