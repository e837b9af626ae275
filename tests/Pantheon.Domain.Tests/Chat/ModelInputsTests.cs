using Pantheon.Domain.Chat;
using Pantheon.Domain.Settings;

namespace Pantheon.Domain.Tests.Chat;

public class ModelInputsTests
{
    private static Turn To(string modelId, TurnTarget target) =>
        new(Guid.NewGuid(), Guid.NewGuid(), "u", modelId, target, new ModelParameters(), [], "hi");

    [Fact]
    public void a_listed_model_takes_no_images_by_any_id_that_routes_to_it_and_others_do()
    {
        string[] textOnly = ["openrouter/meta-llama/llama-3.1-70b-instruct", "my-local-model"];
        var llama = new TurnTarget("openrouter", "meta-llama/llama-3.1-70b-instruct", null, null);
        ModelInputs.TakesImages(To("openrouter/meta-llama/llama-3.1-70b-instruct", llama), textOnly).ShouldBeFalse();
        ModelInputs.TakesImages(To("meta-llama/llama-3.1-70b-instruct", llama), textOnly).ShouldBeFalse();
        ModelInputs.TakesImages(To("openai/gpt-4o", new TurnTarget("openai", "gpt-4o", null, null)), textOnly).ShouldBeTrue();
        // A custom model by its own id; its endpoint's model name routes nowhere.
        ModelInputs.TakesImages(To("my-local-model", new TurnTarget(Turn.CustomProvider, "my-local-model", "http://m.test/v1", null)),
            textOnly).ShouldBeFalse();
        ModelInputs.TakesImages(To("other", new TurnTarget(Turn.CustomProvider, "other", "http://m.test/v1", null)), textOnly).ShouldBeTrue();
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
