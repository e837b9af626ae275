using Pantheon.Domain.Keys;

namespace Pantheon.Domain.Chat;

/// <summary>
/// What each of OpenRouter's models takes as input (<c>architecture.input_modalities</c> in <c>GET /models</c>), by the id
/// OpenRouter knows it by (<c>openai/gpt-4o</c>).
/// </summary>
public sealed record ModelCatalogue(IReadOnlyDictionary<string, IReadOnlyList<string>> InputModalities)
{
    /// <summary>What the model takes, or null when the catalogue does not list it.</summary>
    public IReadOnlyList<string>? Of(string openRouterId) => InputModalities.GetValueOrDefault(openRouterId);
}

/// <summary>What a model takes besides text: an agent's screenshots go as images only to a model that takes them.</summary>
public static class ModelInputs
{
    /// <summary>The input modalities a custom model may declare, in OpenRouter's words.</summary>
    public const string Text = "text", Image = "image";

    public static readonly IReadOnlyList<string> Declarable = [Text, Image];

    /// <summary>
    /// Why a custom model's <c>input_modalities</c> cannot be declared, or null: only <see cref="Declarable"/> words, and
    /// <c>text</c> among them (a chat model takes the message). Absent (null) is no declaration, and valid.
    /// </summary>
    public static string? Invalid(IReadOnlyList<string?>? modalities)
    {
        if (modalities is null) return null;
        var unknown = modalities.Where(m => m is null || !Declarable.Contains(m)).ToList();
        if (unknown.Count > 0)
            return $"input_modalities may hold only {string.Join(" and ", Declarable.Select(d => $"\"{d}\""))}; unknown: "
                + string.Join(", ", unknown.Select(m => m ?? "null")) + ".";
        return modalities.Contains(Text) ? null : "input_modalities must include \"text\": a chat model takes the message as text.";
    }

    /// <summary>A valid declaration as it is kept: each word once, in <see cref="Declarable"/>'s order.</summary>
    public static string[]? Normalized(IReadOnlyList<string?>? modalities) =>
        modalities is null ? null : [.. Declarable.Where(modalities.Contains)];

    /// <summary>
    /// What the turn's model takes as its own metadata says, or null when nothing declares it: a custom model's declaration
    /// (<see cref="TurnTarget.InputModalities"/>), else, for a model OpenRouter serves, its catalogue's entry.
    /// </summary>
    public static IReadOnlyList<string>? Declared(TurnTarget target, ModelCatalogue? catalogue) =>
        target.InputModalities ?? (CatalogueId(target) is { } id ? catalogue?.Of(id) : null);

    /// <summary>
    /// What a configured model (an id of <c>Chat:Models</c>) takes, as OpenRouter's catalogue says; null when it does not say.
    /// </summary>
    public static IReadOnlyList<string>? Declared(string modelId, ModelCatalogue? catalogue) =>
        ModelRoute.For(modelId) is var route ? Declared(new TurnTarget(route.Provider, route.Model, null, null), catalogue) : null;

    /// <summary>The id OpenRouter's catalogue lists the target's model by; null for a model OpenRouter does not serve.</summary>
    public static string? CatalogueId(TurnTarget target) =>
        target.Endpoint is null && target.Provider == Providers.OpenRouter ? target.Model : null;

    /// <summary>
    /// Whether the turn's model takes images. What its metadata declares decides (<see cref="Declared"/>: the user's word for
    /// their own model, OpenRouter's catalogue for its models); a model nothing declares takes images unless it is named in
    /// <paramref name="textOnly"/> (<c>Chat:TextOnlyModels</c>): by the id the user chose, or, for a provider's model, by any
    /// id that routes to it (<c>meta-llama/x</c> and <c>openrouter/meta-llama/x</c> are one model).
    /// </summary>
    public static bool TakesImages(Turn turn, ModelCatalogue? catalogue, IEnumerable<string> textOnly) =>
        Declared(turn.Target, catalogue) is { } declared
            ? declared.Contains(Image)
            : !textOnly.Any(id => id == turn.ModelId
                || turn.Target.Endpoint is null && ModelRoute.For(id) == new ModelRoute(turn.Target.Provider, turn.Target.Model));

    /// <summary>What a model that takes no images reads instead of one: that it was taken, its size and type.</summary>
    public static string NotShown(string tool, byte[] image, string mediaType) =>
        (PngSize(image) is var (width, height) ? $"{tool} returned a {width}x{height} " : $"{tool} returned an ")
        + $"{mediaType} image, not shown: this model does not take images.";

    /// <summary>A PNG's width and height from its header (IHDR, right after the signature); null for anything else.</summary>
    private static (int Width, int Height)? PngSize(byte[] png) =>
        png.Length >= 24 && png[12..16].SequenceEqual("IHDR"u8.ToArray())
            ? (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)),
                System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)))
            : null;
}
