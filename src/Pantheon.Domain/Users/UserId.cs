using System.Security.Cryptography;
using System.Text;

namespace Pantheon.Domain.Users;

/// <summary>
/// Maps an identity provider's subject (<c>sub</c>) to the id of the user's event stream.
/// Streams are keyed by Guid, subjects are arbitrary strings; a name-based (SHA-256, RFC 9562 v8) Guid
/// gives every subject one stable stream without a lookup table.
/// </summary>
public static class UserId
{
    /// <summary>The stream of the user's profile.</summary>
    public static Guid StreamFor(string subject) => Derive("user", subject);

    /// <summary>The stream of the user's settings.</summary>
    public static Guid SettingsStreamFor(string subject) => Derive("settings", subject);

    /// <summary>The stream of the user's own monthly token budget.</summary>
    public static Guid BudgetStreamFor(string subject) => Derive("budget", subject);

    /// <summary>The stream of the user's conversation, general (no project) or about one project.</summary>
    public static Guid ConversationStreamFor(string subject, Guid? projectId) =>
        Derive(projectId is null ? "conversation" : $"conversation:{projectId:D}", subject);

    private static Guid Derive(string purpose, string subject)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"pantheon:{purpose}:{subject}"), hash);
        var bytes = hash[..16].ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // version 8: custom, name-based
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 9562 variant
        return new Guid(bytes, bigEndian: true);
    }
}
