using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;

namespace Pantheon.Web.Auth;

public static class AuthenticationSetup
{
    public const string RoleClaim = "role";

    /// <summary>JWT bearer for every <c>/api</c> route, from an OIDC authority or a development signing key.</summary>
    public static IServiceCollection AddPantheonAuthentication(this IServiceCollection services, IConfiguration configuration,
        IHostEnvironment environment)
    {
        var settings = configuration.GetSection(AuthSettings.Section).Get<AuthSettings>() ?? new AuthSettings();
        Check(settings, environment);
        services.AddSingleton(settings);
        if (!settings.UsesAuthority && environment.IsProduction()) services.AddHostedService<SymmetricKeyWarning>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            options.MapInboundClaims = false;
            options.TokenValidationParameters = new TokenValidationParameters
            {
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidAudience = settings.Audience,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ClockSkew = TimeSpan.FromSeconds(settings.ClockSkewSeconds),
                NameClaimType = "sub",
                RoleClaimType = RoleClaim,
            };

            if (settings.UsesAuthority)
            {
                options.Authority = settings.Authority;
                options.RequireHttpsMetadata = settings.RequireHttpsMetadata ?? !IsLoopback(settings.Authority!);
                options.TokenValidationParameters.ValidIssuer = settings.Issuer ?? settings.Authority!.TrimEnd('/');
                // Only the asymmetric algorithms an OIDC provider signs with: an HS256 token "signed" with the
                // public key must never validate.
                options.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384,
                    SecurityAlgorithms.RsaSha512, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256];
            }
            else
            {
                options.TokenValidationParameters.ValidIssuer = settings.Issuer;
                options.TokenValidationParameters.IssuerSigningKey = DevTokens.SymmetricKey(settings.SigningKey!);
                options.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
            }

            options.Events = new JwtBearerEvents
            {
                OnTokenValidated = context =>
                {
                    // Signed and unexpired is not enough: a token without a user, an ID token or a long-lived one is refused.
                    if (TokenRules.Refusal(context.Principal!, TimeSpan.FromMinutes(settings.MaxTokenLifetimeMinutes)) is { } refusal)
                        context.Fail(refusal);
                    else
                        AddRoles(context.Principal);
                    return Task.CompletedTask;
                },
                // Browsers cannot set headers on a WebSocket: /ws also takes the token as ?access_token=.
                OnMessageReceived = context =>
                {
                    if (context.Request.Path.StartsWithSegments("/ws") && context.Request.Query.TryGetValue("access_token", out var token))
                        context.Token = token;
                    return Task.CompletedTask;
                },
            };
        });
        services.AddAuthorization();
        return services;
    }

    private static void Check(AuthSettings settings, IHostEnvironment environment)
    {
        if (settings.MaxTokenLifetimeMinutes <= 0)
            throw new InvalidOperationException("Auth:MaxTokenLifetimeMinutes must be positive.");
        if (settings.UsesAuthority) return;
        if (environment.IsProduction() && !settings.AllowSymmetricKey)
            throw new InvalidOperationException("Production needs Auth:Authority (an OIDC issuer): HS256 with Auth:SigningKey "
                + "lets whoever holds the key mint any user's token. Set Auth:AllowSymmetricKey=true to run with it anyway.");
        if (string.IsNullOrEmpty(settings.SigningKey))
            throw new InvalidOperationException("Authentication is not configured: set Auth:Authority (an OIDC issuer) or, for development, Auth:SigningKey.");
        if (System.Text.Encoding.UTF8.GetByteCount(settings.SigningKey) < AuthSettings.MinimumSigningKeyBytes)
            throw new InvalidOperationException($"Auth:SigningKey must be at least {AuthSettings.MinimumSigningKeyBytes} bytes.");
        if (string.IsNullOrEmpty(settings.Issuer))
            throw new InvalidOperationException("Auth:Issuer is required with Auth:SigningKey.");
    }

    /// <summary>Production on a symmetric key, allowed by <c>Auth:AllowSymmetricKey</c>: said once at start, as a warning.</summary>
    private sealed class SymmetricKeyWarning(ILogger<SymmetricKeyWarning> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            logger.LogWarning("Production runs on an HS256 signing key (Auth:AllowSymmetricKey=true): "
                + "whoever holds Auth:SigningKey can mint any user's token. Configure Auth:Authority instead.");
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static bool IsLoopback(string authority) =>
        Uri.TryCreate(authority, UriKind.Absolute, out var uri) && uri.IsLoopback;

    /// <summary>Roles from Keycloak's <c>realm_access.roles</c> and from a plain <c>roles</c> claim.</summary>
    private static void AddRoles(ClaimsPrincipal? principal)
    {
        if (principal?.Identity is not ClaimsIdentity identity) return;
        var roles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in identity.FindAll("roles")) AddRoleValues(claim.Value, roles);
        foreach (var claim in identity.FindAll("realm_access"))
        {
            // A malformed realm_access claim throws here, which fails authentication: 401, not a token with guessed roles.
            using var doc = JsonDocument.Parse(claim.Value);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("roles", out var list))
                AddRoleValues(list.GetRawText(), roles);
        }
        foreach (var role in roles) identity.AddClaim(new Claim(RoleClaim, role));
    }

    private static void AddRoleValues(string value, HashSet<string> roles)
    {
        if (value.StartsWith('['))
        {
            using var doc = JsonDocument.Parse(value);
            foreach (var item in doc.RootElement.EnumerateArray())
                if (item.ValueKind == JsonValueKind.String) roles.Add(item.GetString()!);
        }
        else if (value.Length > 0)
        {
            roles.Add(value);
        }
    }
}
