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
        var changed = (SettingsChanged)SettingsDecider.Decide("alice", new SettingsChange(null, new ModelParameters { MaxTokens = 10 }), current, Now).Single();
        changed.PreferredModel.ShouldBe("openai/gpt-4o");
        changed.ModelParameters.MaxTokens.ShouldBe(10);
    }

    [Fact]
    public void the_same_settings_again_record_nothing_whatever_the_order_of_extra_parameters()
    {
        var first = new ModelParameters { Temperature = 1, Extra = Extra("""{"top_p":0.5,"seed":7}""") };
        var again = new ModelParameters { Temperature = 1, Extra = Extra("""{"seed":7,"top_p":0.5}""") };
        var current = UserSettings.Create(new SettingsChanged("alice", "m", first, Now));
        SettingsDecider.Decide("alice", new SettingsChange("m", again), current, Now).ShouldBeEmpty();
        SettingsDecider.Decide("alice", new SettingsChange("m", again with { Extra = Extra("""{"seed":8}""") }), current, Now).ShouldNotBeEmpty();
    }

    private static Dictionary<string, JsonElement> Extra(string json) => JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;
}
