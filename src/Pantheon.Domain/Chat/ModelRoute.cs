using Pantheon.Domain.Keys;

namespace Pantheon.Domain.Chat;

/// <summary>Where a model id goes: a provider and the model name that provider knows.</summary>
public sealed record ModelRoute(string Provider, string Model)
{
    /// <summary>
    /// <c>openai/gpt-4o</c> goes to OpenAI as <c>gpt-4o</c>; <c>openrouter/meta-llama/x</c> to OpenRouter as
    /// <c>meta-llama/x</c>; a bare id, or one whose prefix is no known provider, goes whole to OpenRouter.
    /// </summary>
    public static ModelRoute For(string modelId)
    {
        var slash = modelId.IndexOf('/');
        if (slash > 0 && Providers.IsKnown(modelId[..slash])) return new ModelRoute(modelId[..slash], modelId[(slash + 1)..]);
        return new ModelRoute(Providers.OpenRouter, modelId);
    }
}
