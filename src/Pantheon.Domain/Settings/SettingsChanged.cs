namespace Pantheon.Domain.Settings;

/// <summary>The user chose a preferred model and its parameters.</summary>
public sealed record SettingsChanged(string UserId, string PreferredModel, ModelParameters ModelParameters, DateTimeOffset At);
