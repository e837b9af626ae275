namespace Pantheon.Web.Auth;

/// <summary>
/// The <c>Auth</c> section. Production names an OIDC <see cref="Authority"/> (a Keycloak realm) whose
/// discovery document and JWKS give the RS256 keys; development and tests give a symmetric
/// <see cref="SigningKey"/> (HS256) with <see cref="Issuer"/> and <see cref="Audience"/>.
/// </summary>
public sealed class AuthSettings
{
    public const string Section = "Auth";
    public const string AdminRole = "pantheon-admin";
    public const int MinimumSigningKeyBytes = 32;

    public string? Authority { get; set; }
    public string? Issuer { get; set; }
    public string Audience { get; set; } = "pantheon";
    public string? SigningKey { get; set; }

    /// <summary>Defaults to true unless the authority is on loopback.</summary>
    public bool? RequireHttpsMetadata { get; set; }

    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>
    /// HS256 with <see cref="SigningKey"/> in Production: refused unless this is true (then logged as a warning at start),
    /// since a shared key lets whoever holds it mint any user's token.
    /// </summary>
    public bool AllowSymmetricKey { get; set; }

    /// <summary>The longest lifetime (<c>exp</c> minus <c>nbf</c>, else <c>iat</c>) a token may have; longer ones are refused.</summary>
    public int MaxTokenLifetimeMinutes { get; set; } = 720;

    public bool UsesAuthority => !string.IsNullOrWhiteSpace(Authority);
}
