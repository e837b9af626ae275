using System.Security.Cryptography;
using System.Text;

namespace Pantheon.Domain.Users;

/// <summary>
/// Maps an identity provider's subject (<c>sub</c>) to the ids of the user's event streams.
/// Streams are keyed by Guid, subjects are arbitrary strings; a name-based (SHA-256, RFC 9562 v8) Guid
/// gives every subject one stable stream without a lookup table.
/// </summary>
/// <remarks>
/// The hashed name is a structured encoding that can be read back, so no two (purpose, subject, project) meet:
/// <c>pantheon:</c>, a purpose from a fixed set without <c>:</c>, <c>:</c>, then, for a project's conversation only,
/// the project id in its fixed 36-character form and <c>:</c>, then the subject, which runs to the end. The general
/// conversation used to be named <c>conversation:{subject}</c>, the very prefix of a project's conversation, so a
/// subject <c>{project-id}:{user}</c> reached that user's project conversation; it is <c>general-conversation</c> now.
/// Every other name kept its bytes, so existing profile, settings and project-conversation streams keep their ids.
/// </remarks>
public static class UserId
{
    /// <summary>The stream of the user's profile.</summary>
    public static Guid StreamFor(string subject) => Derive(Name("user", null, subject));

    /// <summary>The stream of the user's settings.</summary>
    public static Guid SettingsStreamFor(string subject) => Derive(Name("settings", null, subject));

    /// <summary>The stream of the user's own monthly token budget.</summary>
    public static Guid BudgetStreamFor(string subject) => Derive(Name("budget", null, subject));

    /// <summary>The stream of the user's conversation, general (no project) or about one project.</summary>
    public static Guid ConversationStreamFor(string subject, Guid? projectId) =>
        Derive(projectId is null ? Name("general-conversation", null, subject) : Name("conversation", projectId, subject));

    // Only "conversation" carries a project, and always does: the purpose alone says whether 36 characters of id follow.
    private static string Name(string purpose, Guid? projectId, string subject)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        return projectId is { } project ? $"pantheon:{purpose}:{project:D}:{subject}" : $"pantheon:{purpose}:{subject}";
    }

    /// <summary>The Guid named by the SHA-256 of <paramref name="name"/>.</summary>
    public static Guid Derive(string name)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(name), hash);
        var bytes = hash[..16].ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // version 8: custom, name-based
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 9562 variant
        return new Guid(bytes, bigEndian: true);
    }
}
