using System.Globalization;
using System.Security.Claims;

namespace Pantheon.Web.Auth;

/// <summary>What a signed, unexpired token must still satisfy to act as a user of the API.</summary>
public static class TokenRules
{
    /// <summary>Keycloak's <c>typ</c> of an access token; an ID token says <c>ID</c>, a refresh token <c>Refresh</c>.</summary>
    public const string AccessTokenType = "Bearer";

    /// <summary>Why the token cannot be used, or null when it can.</summary>
    public static string? Refusal(ClaimsPrincipal principal, TimeSpan maxLifetime)
    {
        if (string.IsNullOrWhiteSpace(principal.FindFirstValue("sub"))) return "The token has no 'sub': it names no user.";
        if (principal.FindFirstValue("typ") is { } type && !string.Equals(type, AccessTokenType, StringComparison.OrdinalIgnoreCase))
            return $"The token's type is '{type}': only access tokens ('{AccessTokenType}') are accepted.";
        var expires = Seconds(principal, "exp");
        var start = Seconds(principal, "nbf") ?? Seconds(principal, "iat");
        if (expires is null || start is null) return "The token has no 'iat' or 'nbf': its lifetime cannot be checked.";
        if (expires - start > (long)maxLifetime.TotalSeconds)
            return $"The token's lifetime exceeds the maximum of {maxLifetime.TotalMinutes:0} minutes (Auth:MaxTokenLifetimeMinutes).";
        return null;
    }

    /// <summary>When the token expires (<c>exp</c>); a validated token always has one.</summary>
    public static DateTimeOffset? ExpiresAt(ClaimsPrincipal principal) =>
        Seconds(principal, "exp") is { } exp ? DateTimeOffset.FromUnixTimeSeconds(exp) : null;

    private static long? Seconds(ClaimsPrincipal principal, string claim) =>
        long.TryParse(principal.FindFirstValue(claim), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
}
