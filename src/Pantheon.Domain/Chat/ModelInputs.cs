namespace Pantheon.Domain.Chat;

/// <summary>What a model takes besides text: an agent's screenshots go as images only to a model that takes them.</summary>
public static class ModelInputs
{
    /// <summary>
    /// False for a model named in <paramref name="textOnly"/> (<c>Chat:TextOnlyModels</c>): by the id the user chose, or, for a
    /// provider's model, by any id that routes to it (<c>meta-llama/x</c> and <c>openrouter/meta-llama/x</c> are one model).
    /// </summary>
    public static bool TakesImages(Turn turn, IEnumerable<string> textOnly) => !textOnly.Any(id =>
        id == turn.ModelId || turn.Target.Endpoint is null && ModelRoute.For(id) == new ModelRoute(turn.Target.Provider, turn.Target.Model));

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
