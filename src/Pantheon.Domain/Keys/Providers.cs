namespace Pantheon.Domain.Keys;

/// <summary>The AI providers a user can hold keys for.</summary>
public static class Providers
{
    public const string OpenRouter = "openrouter", Gemini = "gemini", OpenAI = "openai", Anthropic = "anthropic";

    public static readonly IReadOnlyList<string> All = [OpenRouter, Gemini, OpenAI, Anthropic];

    public static bool IsKnown(string? provider) => provider is not null && All.Contains(provider);
}
