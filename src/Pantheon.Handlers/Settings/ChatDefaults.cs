using Pantheon.Domain.Keys;
using Pantheon.Domain.Settings;

namespace Pantheon.Handlers.Settings;

/// <summary>The <c>Chat</c> section: models, providers' base URLs, and limits.</summary>
public sealed class ChatDefaults
{
    public const string Section = "Chat";

    /// <summary>The model of a user who has not chosen one (<c>Chat:DefaultModel</c>).</summary>
    public string DefaultModel { get; set; } = UserSettings.DefaultModel;

    /// <summary>The models <c>GET /api/models</c> offers besides a user's own.</summary>
    public List<string> Models { get; set; } =
    [
        "openrouter/openai/gpt-4o-mini", "openrouter/meta-llama/llama-3.1-70b-instruct", "openai/gpt-4o",
        "anthropic/claude-3-5-sonnet-latest", "gemini/gemini-1.5-pro",
    ];

    /// <summary>
    /// Models that take no images (<c>Chat:TextOnlyModels</c>, ids as in <see cref="Models"/>, a user's custom models by their
    /// id): an agent's screenshot reaches them as a line that says it was taken, not as an image. Only for models whose own
    /// metadata says nothing: a custom model's declared <c>input_modalities</c>, OpenRouter's catalogue for its models.
    /// </summary>
    public List<string> TextOnlyModels { get; set; } = ["openrouter/meta-llama/llama-3.1-70b-instruct"];

    /// <summary>
    /// How long OpenRouter's model catalogue (<c>GET {BaseUrls:openrouter}/models</c>), read at its first need, is used before
    /// it is read again in the background (<c>Chat:CatalogueRefreshMinutes</c>).
    /// </summary>
    public int CatalogueRefreshMinutes { get; set; } = 60;

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

    /// <summary>How long a provider may take to its first token (<c>Chat:TimeoutSeconds</c>).</summary>
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>The longest silence between two streamed chunks of a reply (<c>Chat:IdleTimeoutSeconds</c>).</summary>
    public int IdleTimeoutSeconds { get; set; } = 60;

    /// <summary>The longest a whole reply may take (<c>Chat:MaxReplySeconds</c>).</summary>
    public int MaxReplySeconds { get; set; } = 600;

    /// <summary>
    /// How long past <see cref="MaxReplySeconds"/> a turn may stay without an outcome before it counts as abandoned (its
    /// process died) and is recorded as interrupted (<c>Chat:AbandonedTurnMarginSeconds</c>): room for a live process
    /// to record a reply that ended at the limit, and for clocks that differ between processes.
    /// </summary>
    public int AbandonedTurnMarginSeconds { get; set; } = 60;

    /// <summary>How often each process looks for abandoned turns, besides at start-up (<c>Chat:AbandonedTurnSweepSeconds</c>).</summary>
    public int AbandonedTurnSweepSeconds { get; set; } = 60;

    /// <summary>The longest message a user may send (<c>Chat:MaxMessageCharacters</c>).</summary>
    public int MaxMessageCharacters { get; set; } = 100_000;

    /// <summary>Where a reply is cut, recorded as <c>truncated</c> (<c>Chat:MaxReplyCharacters</c>, 1 MiB of text).</summary>
    public int MaxReplyCharacters { get; set; } = 1024 * 1024;

    /// <summary>How much earlier conversation (in characters) goes with a new message; the oldest turns go first.</summary>
    public int HistoryBudgetCharacters { get; set; } = 48_000;

    /// <summary>
    /// The tools API as the backend reaches it (<c>Chat:ToolsUrl</c>): the MCP endpoint the agent loop calls with the
    /// project's secret, on the main network.
    /// </summary>
    public string ToolsUrl { get; set; } = "http://127.0.0.1:8090/";

    /// <summary>Model calls of an agent turn that may run tools (<c>Chat:MaxToolRounds</c>); past them the turn ends.</summary>
    public int MaxToolRounds { get; set; } = 20;

    /// <summary>How long a tool call waits for the owner's approval before it expires (<c>Chat:ApprovalTimeoutSeconds</c>).</summary>
    public int ApprovalTimeoutSeconds { get; set; } = 300;

    /// <summary>How long an agent turn waits for its project's VM to be ready (<c>Chat:ProjectReadySeconds</c>).</summary>
    public int ProjectReadySeconds { get; set; } = 600;
}
