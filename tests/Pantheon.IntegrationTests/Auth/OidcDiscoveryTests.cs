using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Alba;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Web.Users;

namespace Pantheon.IntegrationTests.Auth;

/// <summary>
/// A loopback OIDC issuer, shaped like a Keycloak realm: discovery document and JWKS over real HTTP, RS256 keys.
/// The backend under test knows only its authority URL.
/// </summary>
public sealed class LoopbackIssuer : IAsyncLifetime
{
    public const string Kid = "realm-key-1";
    private WebApplication? _server;

    public RSA Key { get; } = RSA.Create(2048);
    public string Authority { get; private set; } = "";
    public int DiscoveryRequests;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.MapGet("/realms/pantheon/.well-known/openid-configuration", () =>
        {
            Interlocked.Increment(ref DiscoveryRequests);
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = Authority,
                ["jwks_uri"] = $"{Authority}/protocol/openid-connect/certs",
                ["authorization_endpoint"] = $"{Authority}/protocol/openid-connect/auth",
                ["token_endpoint"] = $"{Authority}/protocol/openid-connect/token",
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            });
        });
        _server.MapGet("/realms/pantheon/protocol/openid-connect/certs", () =>
        {
            var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(Key.ExportParameters(false)) { KeyId = Kid });
            return Results.Json(new { keys = new[] { new { kid = Kid, kty = "RSA", alg = "RS256", use = "sig", n = jwk.N, e = jwk.E } } });
        });
        await _server.StartAsync();
        Authority = _server.Urls.Single().TrimEnd('/') + "/realms/pantheon";
    }

    public string Mint(RSA key, string subject, object? realmAccess = null, string? audience = "pantheon", string? kid = Kid,
        string? type = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = subject, ["email"] = $"{subject}@example.com" };
        if (type is not null) claims["typ"] = type;
        if (realmAccess is not null) claims["realm_access"] = JsonSerializer.SerializeToElement(realmAccess);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Authority,
            Audience = audience,
            Claims = claims,
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key) { KeyId = kid }, SecurityAlgorithms.RsaSha256),
        });
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        Key.Dispose();
    }
}

public sealed class OidcFixture : IAsyncLifetime
{
    public LoopbackIssuer Issuer { get; } = new();
    public IAlbaHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureCreatedAsync();
        await Issuer.InitializeAsync();
        var settings = TestSettings.Base();
        settings["Auth:Authority"] = Issuer.Authority;
        settings["Auth:SigningKey"] = "";
        settings["Auth:Issuer"] = "";
        Host = await AppFixture.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Issuer.DisposeAsync();
    }
}

public class OidcDiscoveryTests(OidcFixture oidc) : IClassFixture<OidcFixture>
{
    [Fact]
    public async Task rs256_token_from_the_realm_is_accepted_with_keycloak_roles()
    {
        var token = oidc.Issuer.Mint(oidc.Issuer.Key, TestSettings.NewUser("kc"), realmAccess: new { roles = new[] { "pantheon-admin", "offline_access" } });
        var me = await oidc.Host.GetJson<UserProfileResponse>("/api/me", token);
        me.Roles.ShouldBe(["offline_access", "pantheon-admin"]);
        oidc.Issuer.DiscoveryRequests.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task hs256_token_forged_with_the_realm_public_key_is_rejected()
    {
        var publicKeyPem = oidc.Issuer.Key.ExportSubjectPublicKeyInfoPem();
        foreach (var secret in new[] { Encoding.UTF8.GetBytes(publicKeyPem), oidc.Issuer.Key.ExportSubjectPublicKeyInfo(), oidc.Issuer.Key.ExportParameters(false).Modulus! })
        {
            var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = oidc.Issuer.Authority,
                Audience = "pantheon",
                Claims = new Dictionary<string, object> { ["sub"] = "mallory" },
                Expires = DateTime.UtcNow.AddMinutes(10),
                SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(secret) { KeyId = LoopbackIssuer.Kid }, SecurityAlgorithms.HmacSha256),
            });
            await Reject(forged);
        }
    }

    [Fact]
    public async Task token_signed_by_another_key_with_the_realm_kid_is_rejected()
    {
        using var other = RSA.Create(2048);
        await Reject(oidc.Issuer.Mint(other, "mallory"));
    }

    [Fact]
    public async Task keycloaks_access_token_is_accepted_and_its_id_token_refused()
    {
        var user = TestSettings.NewUser("kc");
        await oidc.Host.GetJson<UserProfileResponse>("/api/me", oidc.Issuer.Mint(oidc.Issuer.Key, user, type: "Bearer"));
        await Reject(oidc.Issuer.Mint(oidc.Issuer.Key, user, type: "ID"));
    }

    [Fact]
    public async Task token_for_another_audience_is_rejected() =>
        await Reject(oidc.Issuer.Mint(oidc.Issuer.Key, "mallory", audience: "account"));

    private async Task Reject(string token)
    {
        var result = await oidc.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Get.Url("/api/me");
            x.StatusCodeShouldBe(401);
        });
        result.Context.Response.Headers.WWWAuthenticate.ToString().ShouldStartWith("Bearer");
    }
}
