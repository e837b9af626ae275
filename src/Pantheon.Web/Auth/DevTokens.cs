using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Pantheon.Web.Auth;

/// <summary>Mints HS256 tokens that a backend configured with <see cref="AuthSettings.SigningKey"/> accepts.</summary>
public static class DevTokens
{
    public static string Mint(AuthSettings settings, string user, string? email = null, string? name = null,
        IEnumerable<string>? roles = null, TimeSpan? lifetime = null, DateTime? notBefore = null)
    {
        if (string.IsNullOrEmpty(settings.SigningKey))
            throw new InvalidOperationException("Auth:SigningKey is not configured: development tokens need a symmetric signing key.");

        var now = DateTime.UtcNow;
        var claims = new List<Claim> { new("sub", user) };
        if (email is not null) claims.Add(new Claim("email", email));
        if (name is not null) claims.Add(new Claim("name", name));
        foreach (var role in roles ?? []) claims.Add(new Claim("roles", role));

        var descriptor = new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(claims),
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            IssuedAt = notBefore ?? now,
            NotBefore = notBefore ?? now,
            Expires = (notBefore ?? now) + (lifetime ?? TimeSpan.FromHours(1)),
            SigningCredentials = new SigningCredentials(SymmetricKey(settings.SigningKey), SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    internal static SymmetricSecurityKey SymmetricKey(string signingKey) => new(Encoding.UTF8.GetBytes(signingKey));
}
