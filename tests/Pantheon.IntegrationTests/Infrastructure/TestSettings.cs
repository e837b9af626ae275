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

    /// <summary>
    /// The <c>pantheon.instance</c> label of this run's Docker resources (<c>PANTHEON_TEST_INSTANCE</c>): two test runs on
    /// one engine, each with its own database, instance and subnet pool, never touch each other's machines.
    /// </summary>
    public static readonly string Instance = Environment.GetEnvironmentVariable("PANTHEON_TEST_INSTANCE") is { Length: > 0 } i ? i : "pantheon-tests";

    /// <summary>Where this run's project subnets come from (<c>PANTHEON_TEST_SUBNET_POOL</c>, default 172.30.0.0/16).</summary>
    public static readonly string SubnetPool = Environment.GetEnvironmentVariable("PANTHEON_TEST_SUBNET_POOL") is { Length: > 0 } p ? p : "172.30.0.0/16";

    public static Dictionary<string, string?> Base() => new()
    {
        ["ConnectionStrings:Marten"] = TestDatabase.Application,
        ["ConnectionStrings:MartenOwner"] = TestDatabase.Owner,
        ["Auth:Authority"] = "",
        ["Auth:Issuer"] = Issuer,
        ["Auth:Audience"] = Audience,
        ["Auth:SigningKey"] = SigningKey,
        ["MCP_MASTER_SECRET"] = MasterSecret,
        ["Docker:Endpoint"] = DockerEndpoint,
        ["Docker:TimeoutSeconds"] = "10",
        ["Docker:Instance"] = Instance,
        ["Projects:SubnetPool"] = SubnetPool,
        ["Projects:DataRoot"] = DataRoot,
        ["Projects:FileServerImage"] = "pantheon/file-server:latest",
        ["Projects:RetryBaseDelayMilliseconds"] = "100",
        ["Projects:ReconcilerEnabled"] = "false",
        ["Vm:Image"] = "pantheon/test-vm:latest",
        ["Vm:Devices"] = "",
        ["Vm:CapAdd"] = "",
        ["Vm:StopGracePeriodSeconds"] = "1",
        ["Vm:BootTimeoutSeconds"] = "60",
        ["Vm:HealthPollMilliseconds"] = "250",
        // Tests poll far faster than a person clicks: rate limits out of the way, except on hosts that test them.
        ["RateLimits:Api:TokenLimit"] = "100000",
        ["RateLimits:Api:TokensPerPeriod"] = "100000",
        ["RateLimits:Chat:TokenLimit"] = "100000",
        ["RateLimits:Chat:TokensPerPeriod"] = "100000",
        ["RateLimits:Projects:TokenLimit"] = "100000",
        ["RateLimits:Projects:TokensPerPeriod"] = "100000",
        ["Limits:ConcurrentChatsPerUser"] = "1000", // eight chats at once to one conversation are a test of their own
    };

    /// <summary>The base settings for a Production host: the tests' HS256 key needs the explicit allowance there.</summary>
    public static Dictionary<string, string?> Production()
    {
        var settings = Base();
        settings["Auth:AllowSymmetricKey"] = "true";
        return settings;
    }

    /// <summary>Shared folders of test projects, under the repository's ignored state folder.</summary>
    public static readonly string DataRoot = Path.Combine(Path.GetTempPath(), Instance, "data");

    /// <summary>A token for a fresh user, so tests sharing a database never see each other's data.</summary>
    public static string TokenFor(string user, string? email = null, string? name = null, params string[] roles) =>
        DevTokens.Mint(Auth, user, email, name, roles);

    public static string NewUser(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}";
}
