namespace Pantheon.Domain.Settings;

/// <summary>A user's chat settings, rebuilt from the settings stream.</summary>
public sealed partial class UserSettings
{
    public const string DefaultModel = "openrouter/openai/gpt-4o-mini";
    public static readonly ModelParameters DefaultParameters = new() { Temperature = 0.7, MaxTokens = 2000 };

    public Guid Id { get; set; }
    public string UserId { get; set; } = "";
    public string PreferredModel { get; set; } = DefaultModel;
    public ModelParameters ModelParameters { get; set; } = DefaultParameters;
    public DateTimeOffset? UpdatedAt { get; set; }
    public int Version { get; set; }

    public static UserSettings Create(SettingsChanged e) => new()
    {
        UserId = e.UserId, PreferredModel = e.PreferredModel, ModelParameters = e.ModelParameters, UpdatedAt = e.At,
    };

    public void Apply(SettingsChanged e)
    {
        PreferredModel = e.PreferredModel;
        ModelParameters = e.ModelParameters;
        UpdatedAt = e.At;
    }

    /// <summary>What a user sees before changing anything.</summary>
    public static UserSettings DefaultsFor(string userId, string defaultModel) =>
        new() { UserId = userId, PreferredModel = defaultModel, ModelParameters = DefaultParameters };
}

/// <summary>A request to change settings; an absent field keeps its current value.</summary>
public sealed record SettingsChange(string? PreferredModel, ModelParameters? ModelParameters);

public static class SettingsDecider
{
    /// <summary>Records the new settings, or nothing when they equal the current ones.</summary>
    public static object[] Decide(string userId, SettingsChange change, UserSettings current, DateTimeOffset now)
    {
        var model = change.PreferredModel?.Trim() ?? current.PreferredModel;
        var parameters = change.ModelParameters?.Over(current.ModelParameters) ?? current.ModelParameters;
        var unchanged = current.UpdatedAt is not null && model == current.PreferredModel && parameters.SameAs(current.ModelParameters);
        return unchanged ? [] : [new SettingsChanged(userId, model, parameters, now)];
    }
}
