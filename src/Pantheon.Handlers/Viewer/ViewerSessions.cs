using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Pantheon.Domain.Viewer;
using Pantheon.Handlers.Keys;

namespace Pantheon.Handlers.Viewer;

/// <summary>
/// The viewer session's cookie: user, project and expiry, signed with HMAC-SHA256 under a key derived from
/// <c>MCP_MASTER_SECRET</c>, so every backend process accepts what any other issued, and nothing is stored.
/// </summary>
public sealed class ViewerSessions(MasterSecret secret)
{
    public const string CookieName = "pantheon_viewer";

    private readonly byte[] _key =
        HKDF.DeriveKey(HashAlgorithmName.SHA256, secret.Bytes, 32, info: "pantheon:viewer-session:v1"u8.ToArray());

    public string Seal(ViewerSession session)
    {
        var payload = $"{session.ProjectId:N}.{session.ExpiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}."
            + ViewerTickets.Base64Url(Encoding.UTF8.GetBytes(session.UserId));
        return $"{payload}.{ViewerTickets.Base64Url(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(payload)))}";
    }

    /// <summary>The session the cookie carries, or null when it is malformed or its signature does not hold.</summary>
    public ViewerSession? Open(string? cookie)
    {
        if (cookie?.Split('.') is not [var project, var expires, var user, var signature]) return null;
        var expected = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{project}.{expires}.{user}"));
        if (!TryBase64Url(signature, out var given) || !CryptographicOperations.FixedTimeEquals(expected, given)) return null;
        if (!Guid.TryParseExact(project, "N", out var projectId) || !long.TryParse(expires, CultureInfo.InvariantCulture, out var seconds)
            || !TryBase64Url(user, out var userBytes))
            return null;
        return new ViewerSession(Encoding.UTF8.GetString(userBytes), projectId, DateTimeOffset.FromUnixTimeSeconds(seconds));
    }

    private static bool TryBase64Url(string text, out byte[] bytes)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        padded += new string('=', (4 - padded.Length % 4) % 4);
        bytes = new byte[padded.Length];
        if (!Convert.TryFromBase64String(padded, bytes, out var written)) return false;
        bytes = bytes[..written];
        return true;
    }
}
