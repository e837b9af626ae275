using System.Text;
using Alba;
using Microsoft.IdentityModel.Tokens;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Web.Auth;

namespace Pantheon.IntegrationTests.Auth;

[Collection(AppCollection.Name)]
public class TokenValidationTests(AppFixture app)
{
    private static readonly AuthSettings Valid = TestSettings.Auth;
    private static readonly TimeSpan Longest = TimeSpan.FromMinutes(new AuthSettings().MaxTokenLifetimeMinutes);

    public static TheoryData<string, string> RejectedTokens() => new()
    {
        { "expired past the clock skew", DevTokens.Mint(Valid, "mallory", notBefore: DateTime.UtcNow.AddHours(-2), lifetime: TimeSpan.FromHours(1)) },
        { "not yet valid", DevTokens.Mint(Valid, "mallory", notBefore: DateTime.UtcNow.AddHours(1)) },
        { "wrong issuer", DevTokens.Mint(Copy(Valid, issuer: "someone-else"), "mallory") },
        { "wrong audience", DevTokens.Mint(Copy(Valid, audience: "another-api"), "mallory") },
        { "bad signature", DevTokens.Mint(Copy(Valid, key: "a-different-signing-key-0123456789abcdef"), "mallory") },
        { "alg none", Unsigned() },
        { "garbage", "not.a.jwt" },
        { "signature stripped", StripSignature(DevTokens.Mint(Valid, "mallory")) },
    };

    [Theory]
    [MemberData(nameof(RejectedTokens))]
    public async Task api_rejects_token_that_is(string why, string token)
    {
        var result = await app.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Get.Url("/api/me");
            x.StatusCodeShouldBe(401);
        });
        result.Context.Response.Headers.WWWAuthenticate.ToString().ShouldStartWith("Bearer", customMessage: why);
    }

    [Fact]
    public async Task api_rejects_request_without_token()
    {
        var result = await app.Host.Scenario(x =>
        {
            x.Get.Url("/api/user/settings");
            x.StatusCodeShouldBe(401);
        });
        result.Context.Response.Headers.WWWAuthenticate.ToString().ShouldBe("Bearer");
    }

    [Fact]
    public async Task every_api_route_requires_a_token()
    {
        foreach (var (method, url) in new[]
                 {
                     (HttpMethod.Get, "/api/me"), (HttpMethod.Get, "/api/user/settings"), (HttpMethod.Put, "/api/user/settings"),
                     (HttpMethod.Get, "/api/user/api-keys"), (HttpMethod.Post, "/api/user/api-keys"),
                     (HttpMethod.Delete, $"/api/user/api-keys/{Guid.NewGuid()}"),
                 })
        {
            await app.Host.Send(method, url, token: null, body: new { }, status: 401);
        }
    }

    [Fact]
    public async Task token_within_its_lifetime_is_accepted()
    {
        var token = DevTokens.Mint(Valid, TestSettings.NewUser(), lifetime: TimeSpan.FromMinutes(5));
        await app.Host.Send(HttpMethod.Get, "/api/me", token);
    }

    public static TheoryData<string, string> RefusedClaims() => new()
    {
        { "without sub", Mint(new() { ["email"] = "nobody@example.com" }) },
        { "with an empty sub", Mint(new() { ["sub"] = "" }) },
        { "an ID token (Keycloak's typ)", Mint(new() { ["sub"] = "mallory", ["typ"] = "ID" }) },
        { "a refresh token (Keycloak's typ)", Mint(new() { ["sub"] = "mallory", ["typ"] = "Refresh" }) },
        { "living longer than the maximum", DevTokens.Mint(Valid, "mallory", lifetime: Longest + TimeSpan.FromMinutes(1)) },
        { "without iat or nbf", Mint(new() { ["sub"] = "mallory" }, withTimes: false) },
    };

    [Theory]
    [MemberData(nameof(RefusedClaims))]
    public async Task every_api_route_answers_401_not_500_to_a_signed_token(string why, string token)
    {
        string[] urls = ["/api/me", "/api/user/settings", "/api/projects", "/api/chat/history", "/api/user/api-keys", "/api/audit"];
        foreach (var url in urls)
        {
            var result = await app.Host.Scenario(x =>
            {
                x.WithBearerToken(token);
                x.Get.Url(url);
                x.StatusCodeShouldBe(401);
            });
            result.Context.Response.Headers.WWWAuthenticate.ToString().ShouldStartWith("Bearer", customMessage: $"{why}: {url}");
        }
    }

    [Fact]
    public async Task an_access_token_marked_bearer_within_the_maximum_lifetime_is_accepted()
    {
        await app.Host.Send(HttpMethod.Get, "/api/me", Mint(new() { ["sub"] = TestSettings.NewUser(), ["typ"] = "Bearer" }));
        await app.Host.Send(HttpMethod.Get, "/api/me", DevTokens.Mint(Valid, TestSettings.NewUser(), lifetime: Longest));
    }

    /// <summary>A token signed with the tests' key carrying exactly <paramref name="claims"/> (and, unless told, iat and nbf).</summary>
    private static string Mint(Dictionary<string, object> claims, bool withTimes = true)
    {
        var now = DateTime.UtcNow;
        return new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(
            new SecurityTokenDescriptor
            {
                Issuer = Valid.Issuer,
                Audience = Valid.Audience,
                Claims = claims,
                IssuedAt = withTimes ? now : null,
                NotBefore = withTimes ? now : null,
                Expires = now.AddMinutes(10),
                SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Valid.SigningKey!)),
                    SecurityAlgorithms.HmacSha256),
            });
    }

    private static AuthSettings Copy(AuthSettings s, string? issuer = null, string? audience = null, string? key = null) =>
        new() { Issuer = issuer ?? s.Issuer, Audience = audience ?? s.Audience, SigningKey = key ?? s.SigningKey };

    private static string Unsigned()
    {
        static string Part(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        return $"{Part("{\"alg\":\"none\",\"typ\":\"JWT\"}")}.{Part($"{{\"sub\":\"mallory\",\"iss\":\"{TestSettings.Issuer}\",\"aud\":\"{TestSettings.Audience}\",\"exp\":{exp}}}")}.";
    }

    private static string StripSignature(string token) => token[..(token.LastIndexOf('.') + 1)];
}
