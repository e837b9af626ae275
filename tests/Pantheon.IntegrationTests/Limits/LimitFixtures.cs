using Alba;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Limits;

/// <summary>
/// A host of its own with the limits a collection tests, on the shared test database (fresh users keep tests apart, so
/// it never resets data) with machines under an instance label and data root of its own below this run's: the app
/// collection's clean-ups never take its machines, and it removes its own when it is done.
/// </summary>
public abstract class LimitedHostFixture(string name) : IAsyncLifetime
{
    private readonly string _instance = $"{TestSettings.Instance}-{name}";
    private string DataRoot => Path.Combine(Path.GetTempPath(), _instance, "data");

    public IAlbaHost Host { get; private set; } = null!;
    public FakeProvider Fake { get; private set; } = null!;

    /// <summary>A model that goes to the fake OpenRouter with the system key: chats need no key of the user's.</summary>
    public const string Model = "mistralai/mixtral-8x7b";

    protected abstract void Configure(Dictionary<string, string?> settings);

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureCreatedAsync();
        Fake = await FakeProvider.StartAsync();
        var settings = TestSettings.Base();
        settings["Chat:BaseUrls:openrouter"] = Fake.BaseUrl.ToString().TrimEnd('/') + "/api/v1";
        settings["OPENROUTER_API_KEY"] = AppFixture.SystemOpenRouterKey;
        settings["Chat:TimeoutSeconds"] = "30";
        settings["Docker:Instance"] = _instance;
        settings["Projects:DataRoot"] = DataRoot;
        Configure(settings);
        Host = await AppFixture.StartAsync(settings, messageSchema: AppFixture.MessageSchema($"limits_{name}"));
        await RemoveMachinesAsync();
    }

    public async Task DisposeAsync()
    {
        await RemoveMachinesAsync();
        await Host.DisposeAsync();
        await Fake.DisposeAsync();
    }

    private async Task RemoveMachinesAsync()
    {
        await TestMachines.RemoveAllAsync(Host.Services.GetRequiredService<IVmHost>());
        if (Directory.Exists(DataRoot)) Directory.Delete(DataRoot, recursive: true);
    }
}

/// <summary>Small caps (the projects cap keeps its default of 5); rate limits out of the way.</summary>
public sealed class CapsFixture() : LimitedHostFixture("caps")
{
    public const int Keys = 3, Models = 2, Chats = 2, Sockets = 2;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Limits:ApiKeysPerUser"] = Keys.ToString();
        settings["Limits:CustomModelsPerUser"] = Models.ToString();
        settings["Limits:ConcurrentChatsPerUser"] = Chats.ToString();
        settings["Limits:WebSocketsPerUser"] = Sockets.ToString();
    }
}

[CollectionDefinition(Name)]
public sealed class CapsCollection : ICollectionFixture<CapsFixture>
{
    public const string Name = "caps";
}

/// <summary>Small buckets that refill slowly (one a minute), so a test can empty one and see the 429.</summary>
public sealed class RateLimitFixture() : LimitedHostFixture("rates")
{
    public const int Api = 8;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["RateLimits:Api:TokenLimit"] = Api.ToString();
        settings["RateLimits:Api:TokensPerPeriod"] = "1";
        settings["RateLimits:Api:PeriodSeconds"] = "60";
        foreach (var bucket in new[] { "Chat", "Projects" })
        {
            settings[$"RateLimits:{bucket}:TokenLimit"] = "1";
            settings[$"RateLimits:{bucket}:TokensPerPeriod"] = "1";
            settings[$"RateLimits:{bucket}:PeriodSeconds"] = "60";
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RateLimitCollection : ICollectionFixture<RateLimitFixture>
{
    public const string Name = "rate-limits";
}
