using System.Text.Json;
using Pantheon.Domain.Settings;

namespace Pantheon.Domain.Tests.Settings;

public class SettingsDeciderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly UserSettings Defaults = UserSettings.DefaultsFor("alice", "openrouter/auto");

    [Fact]
    public void the_first_change_is_recorded_even_when_it_repeats_the_defaults()
    {
        var events = SettingsDecider.Decide("alice", new SettingsChange("openrouter/auto", null), Defaults, Now);
        events.ShouldHaveSingleItem().ShouldBeOfType<SettingsChanged>().PreferredModel.ShouldBe("openrouter/auto");
    }

    [Fact]
    public void absent_fields_keep_the_current_values()
    {
        var current = UserSettings.Create(new SettingsChanged("alice", "openai/gpt-4o", new ModelParameters { Temperature = 0.2 }, Now));
        var change = new SettingsChange(null, new ModelParameters { MaxTokens = 10 });
        var changed = (SettingsChanged)SettingsDecider.Decide("alice", change, current, Now).Single();
        changed.PreferredModel.ShouldBe("openai/gpt-4o");
        changed.ModelParameters.MaxTokens.ShouldBe(10);
    }

    [Fact]
    public void a_nested_absent_parameter_keeps_its_value()
    {
        var saved = new ModelParameters { Temperature = 0.7, MaxTokens = 2000, TopP = 0.9 };
        var current = UserSettings.Create(new SettingsChanged("alice", "m", saved, Now));
        var change = new SettingsChange(null, new ModelParameters { Temperature = 0.4 });
        var changed = (SettingsChanged)SettingsDecider.Decide("alice", change, current, Now).Single();
        changed.ModelParameters.ShouldBe(new ModelParameters { Temperature = 0.4, MaxTokens = 2000, TopP = 0.9 });
    }

    [Fact]
    public void the_same_settings_again_record_nothing()
    {
        var first = new ModelParameters { Temperature = 1, TopP = 0.5, Seed = 7, Stop = ["END"] };
        var current = UserSettings.Create(new SettingsChanged("alice", "m", first, Now));
        SettingsDecider.Decide("alice", new SettingsChange("m", first with { Stop = ["END"] }), current, Now).ShouldBeEmpty();
        SettingsDecider.Decide("alice", new SettingsChange("m", new ModelParameters { Seed = 8 }), current, Now).ShouldNotBeEmpty();
    }

    [Fact]
    public void parameters_off_the_allowlist_or_out_of_range_are_field_errors()
    {
        var json = """{"top_p":1.5,"presence_penalty":-3,"logit_bias":{"1":2},"top_k":4}""";
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        var parameters = JsonSerializer.Deserialize<ModelParameters>(json, options)!;
        parameters.Errors("model_parameters").Select(e => e.Field)
            .ShouldBe(["model_parameters.top_p", "model_parameters.presence_penalty", "model_parameters.logit_bias",
                "model_parameters.top_k"]);
        new ModelParameters { Temperature = 2, Stop = ["a", "b", "c", "d"], Seed = -1 }.Errors("p").ShouldBeEmpty();
        new ModelParameters { Stop = ["a", "b", "c", "d", "e"] }.Errors("p").Select(e => e.Field).ShouldBe(["p.stop"]);
    }
}
