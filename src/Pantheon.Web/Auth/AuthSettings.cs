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

    public bool UsesAuthority => !string.IsNullOrWhiteSpace(Authority);
}
