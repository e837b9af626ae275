using Pantheon.Domain.Keys;
using Pantheon.Domain.Settings;

namespace Pantheon.Handlers.Settings;

/// <summary>The <c>Chat</c> section: models, providers' base URLs, and limits.</summary>
public sealed class ChatDefaults
{
    public const string Section = "Chat";

    /// <summary>The model of a user who has not chosen one (<c>Chat:DefaultModel</c>).</summary>
    public string Model { get; set; } = UserSettings.DefaultModel;

    /// <summary>The models <c>GET /api/models</c> offers besides a user's own.</summary>
    public List<string> Models { get; set; } =
    [
        "openrouter/openai/gpt-4o-mini", "openrouter/meta-llama/llama-3.1-70b-instruct", "openai/gpt-4o",
        "anthropic/claude-3-5-sonnet-latest", "gemini/gemini-1.5-pro",
    ];

    /// <summary>Base URLs by provider; tests point them at a loopback fake.</summary>
    public Dictionary<string, string> BaseUrls { get; set; } = new()
    {
        [Providers.OpenRouter] = "https://openrouter.ai/api/v1",
        [Providers.OpenAI] = "https://api.openai.com/v1",
        [Providers.Gemini] = "https://generativelanguage.googleapis.com/v1beta/openai",
        [Providers.Anthropic] = "https://api.anthropic.com",
    };

    /// <summary>
    /// CIDRs inside the network that users' custom endpoints may reach anyway (<c>Chat:AllowedPrivateNetworks</c>):
    /// empty by default; Development allows loopback, so that a local model server works.
    /// </summary>
    public List<string> AllowedPrivateNetworks { get; set; } = [];

    /// <summary>How long a provider may take to answer (to its first token, when streaming).</summary>
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>How much earlier conversation (in characters) goes with a new message; the oldest turns go first.</summary>
    public int HistoryBudgetCharacters { get; set; } = 48_000;
}
