using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pantheon.Domain.Settings;

/// <summary>
/// Parameters sent to a model: only this allowlist goes to providers, each checked against its range
/// (<see cref="Errors"/>). Anything else a client sends lands in <see cref="Extra"/> only to be refused.
/// </summary>
public sealed record ModelParameters
{
    public const double MinTemperature = 0, MaxTemperature = 2;
    public const double MinTopP = 0, MaxTopP = 1;
    public const int MinMaxTokens = 1, MaxMaxTokens = 1_000_000;
    public const double MinPenalty = -2, MaxPenalty = 2;
    public const int MaxStopSequences = 4, MaxStopLength = 200;

    /// <summary>The parameters a provider may receive, as the API names them.</summary>
    public static readonly IReadOnlyList<string> Allowed =
        ["temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty"];

    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? MaxTokens { get; init; }
    public IReadOnlyList<string>? Stop { get; init; }
    public long? Seed { get; init; }
    public double? PresencePenalty { get; init; }
    public double? FrequencyPenalty { get; init; }

    /// <summary>What is not on the allowlist: never sent, and a request that carries any is refused.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <summary>These values where set, the <paramref name="under"/> ones where not: an absent field keeps its value.</summary>
    public ModelParameters Over(ModelParameters? under) => under is null ? this with { Extra = null } : new()
    {
        Temperature = Temperature ?? under.Temperature,
        TopP = TopP ?? under.TopP,
        MaxTokens = MaxTokens ?? under.MaxTokens,
        Stop = Stop ?? under.Stop,
        Seed = Seed ?? under.Seed,
        PresencePenalty = PresencePenalty ?? under.PresencePenalty,
        FrequencyPenalty = FrequencyPenalty ?? under.FrequencyPenalty,
    };

    /// <summary>Same values (extra parameters are never kept, so they do not count).</summary>
    public bool SameAs(ModelParameters? other) =>
        other is not null && Temperature == other.Temperature && TopP == other.TopP && MaxTokens == other.MaxTokens
        && Seed == other.Seed && PresencePenalty == other.PresencePenalty && FrequencyPenalty == other.FrequencyPenalty
        && (Stop ?? []).SequenceEqual(other.Stop ?? []);

    /// <summary>Field errors keyed <c>{prefix}.{name}</c>: values out of range, and every parameter not on the allowlist.</summary>
    public IEnumerable<(string Field, string Message)> Errors(string prefix)
    {
        if (Temperature is < MinTemperature or > MaxTemperature)
            yield return ($"{prefix}.temperature", $"temperature must be between {MinTemperature} and {MaxTemperature}.");
        if (TopP is < MinTopP or > MaxTopP) yield return ($"{prefix}.top_p", $"top_p must be between {MinTopP} and {MaxTopP}.");
        if (MaxTokens is < MinMaxTokens or > MaxMaxTokens)
            yield return ($"{prefix}.max_tokens", $"max_tokens must be between {MinMaxTokens} and {MaxMaxTokens}.");
        if (PresencePenalty is < MinPenalty or > MaxPenalty)
            yield return ($"{prefix}.presence_penalty", $"presence_penalty must be between {MinPenalty} and {MaxPenalty}.");
        if (FrequencyPenalty is < MinPenalty or > MaxPenalty)
            yield return ($"{prefix}.frequency_penalty", $"frequency_penalty must be between {MinPenalty} and {MaxPenalty}.");
        if (Stop is { } stop && (stop.Count > MaxStopSequences || stop.Any(s => s.Length is 0 or > MaxStopLength)))
            yield return ($"{prefix}.stop", $"stop takes at most {MaxStopSequences} sequences of 1 to {MaxStopLength} characters.");
        foreach (var name in (Extra ?? []).Keys.Order(StringComparer.Ordinal))
            yield return ($"{prefix}.{name}", $"'{name}' is not an allowed model parameter; allowed: {string.Join(", ", Allowed)}.");
    }

    private static readonly JsonSerializerOptions ApiJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>
    /// A custom model's stored <c>parameters</c> as parameters; null with the reason when they are not
    /// parameters at all (a value of the wrong type).
    /// </summary>
    public static (ModelParameters? Parameters, string? Error) FromJson(Dictionary<string, JsonElement>? values)
    {
        if (values is null or { Count: 0 }) return (new ModelParameters(), null);
        try
        {
            return (JsonSerializer.Deserialize<ModelParameters>(JsonSerializer.SerializeToElement(values), ApiJson)!, null);
        }
        catch (JsonException e)
        {
            return (null, $"parameters are not valid model parameters: {e.Message}");
        }
    }
}
