using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pantheon.Domain.Settings;

/// <summary>
/// Parameters sent to a model. <c>temperature</c> and <c>max_tokens</c> are checked; any other
/// parameter (<c>top_p</c>, <c>stop</c>, ...) is kept exactly as the user gave it.
/// </summary>
public sealed record ModelParameters
{
    public const double MinTemperature = 0, MaxTemperature = 2;
    public const int MinMaxTokens = 1, MaxMaxTokens = 1_000_000;

    public double? Temperature { get; init; }
    public int? MaxTokens { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <summary>Same values, ignoring the order of extra parameters.</summary>
    public bool SameAs(ModelParameters? other) =>
        other is not null && Temperature == other.Temperature && MaxTokens == other.MaxTokens && ExtraText(this) == ExtraText(other);

    private static string ExtraText(ModelParameters p) =>
        p.Extra is null or { Count: 0 } ? "" : string.Join('\n', p.Extra.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value.GetRawText()));
}
