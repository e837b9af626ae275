using Pantheon.Web.Auth;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>The configuration every test host starts with.</summary>
public static class TestSettings
{
    public const string Issuer = "pantheon-tests";
    public const string Audience = "pantheon";
    public const string SigningKey = "pantheon-test-signing-key-0123456789abcdef";
    public const string MasterSecret = "pantheon-test-master-secret-0123456789abcdef";

    public static readonly AuthSettings Auth = new() { Issuer = Issuer, Audience = Audience, SigningKey = SigningKey };

    public static string DockerEndpoint => Environment.GetEnvironmentVariable("Docker__Endpoint") ?? "unix:///var/run/docker.sock";

    public static Dictionary<string, string?> Base() => new()
    {
        ["ConnectionStrings:Marten"] = TestDatabase.ConnectionString,
        ["Auth:Authority"] = "",
        ["Auth:Issuer"] = Issuer,
        ["Auth:Audience"] = Audience,
        ["Auth:SigningKey"] = SigningKey,
        ["MCP_MASTER_SECRET"] = MasterSecret,
        ["Docker:Endpoint"] = DockerEndpoint,
        ["Docker:TimeoutSeconds"] = "5",
    };

    /// <summary>A token for a fresh user, so tests sharing a database never see each other's data.</summary>
    public static string TokenFor(string user, string? email = null, string? name = null, params string[] roles) =>
        DevTokens.Mint(Auth, user, email, name, roles);

    public static string NewUser(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}";
}
