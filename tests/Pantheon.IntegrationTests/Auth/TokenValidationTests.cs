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
