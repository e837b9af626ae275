using Pantheon.Domain.Settings;

namespace Pantheon.Handlers.Settings;

/// <summary>The <c>Chat</c> section: what a user gets before choosing anything.</summary>
public sealed class ChatDefaults
{
    public const string Section = "Chat";

    /// <summary>The model of a user who has not chosen one (<c>Chat:DefaultModel</c>).</summary>
    public string Model { get; set; } = UserSettings.DefaultModel;
}
