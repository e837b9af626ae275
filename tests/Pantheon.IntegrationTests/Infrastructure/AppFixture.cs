using Pantheon.TestSupport;
using Alba;
using Marten;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pantheon.Handlers.Projects;
using Wolverine;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>One backend per test collection, on the real PostgreSQL and Docker engine that ./test.sh starts.</summary>
public class AppFixture : IAsyncLifetime
{
    public IAlbaHost Host { get; private set; } = null!;
    public LogCapture Logs { get; } = new();

    /// <summary>The AI providers this host talks to: one protocol-faithful fake on loopback.</summary>
    public FakeProvider Fake { get; private set; } = null!;

    public const string SystemOpenRouterKey = "sk-or-system-key-for-tests";

    /// <summary>Settings a derived fixture changes for its host.</summary>
    protected virtual void Configure(Dictionary<string, string?> settings) { }

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureCreatedAsync();
        Fake = await FakeProvider.StartAsync();
        var settings = TestSettings.Base();
        var fake = Fake.BaseUrl.ToString().TrimEnd('/');
        settings["Chat:BaseUrls:openai"] = fake + "/v1";
        settings["Chat:BaseUrls:openrouter"] = fake + "/api/v1";
        settings["Chat:BaseUrls:gemini"] = fake + "/v1beta/openai";
        settings["Chat:BaseUrls:anthropic"] = fake;
        settings["Chat:TimeoutSeconds"] = "3";
        settings["OPENROUTER_API_KEY"] = SystemOpenRouterKey;
        // Custom models in these tests live on the loopback fake; the SSRF tests run a host without this allowance.
        settings["Chat:AllowedPrivateNetworks:0"] = "127.0.0.0/8";
        Configure(settings);
        Host = await StartAsync(settings, Logs);
        await Host.ResetAllPantheonDataAsync();
        await RemoveTestMachinesAsync();
    }

    /// <summary>Every container, network and volume of earlier test runs: with the data reset, none has an owner.</summary>
    private async Task RemoveTestMachinesAsync()
    {
        await TestMachines.RemoveAllAsync(Host.Services.GetRequiredService<IVmHost>());
        if (Directory.Exists(TestSettings.DataRoot)) Directory.Delete(TestSettings.DataRoot, recursive: true);
    }

    public static Task<IAlbaHost> StartAsync(Dictionary<string, string?> settings, LogCapture? logs = null, string environment = "Testing",
        Action<IServiceCollection>? services = null) =>
        AlbaHost.For<Program>(b =>
        {
            b.UseEnvironment(environment);
            foreach (var (key, value) in settings) b.UseSetting(key, value);
            if (services is not null) b.ConfigureServices(services);
            b.ConfigureServices(services =>
            {
                services.AddSingleton<IStartupFilter, ResponseRecorder.StartupFilter>();
                services.RunWolverineInSoloMode();
                services.MartenDaemonModeIsSolo();
                if (logs is not null)
                {
                    services.AddSingleton<ILoggerProvider>(logs);
                    services.AddLogging(l => l.AddFilter<LogCapture>(_ => true));
                }
            });
        });

    /// <summary>
    /// Also holds every <c>/api</c> answer that the run's test hosts gave against the OpenAPI document: an undeclared
    /// status or a body off its schema fails the run here, whichever test caused it (see <see cref="OpenApiContract"/>).
    /// </summary>
    public async Task DisposeAsync()
    {
        var violations = (await OpenApiContract.FromAsync(Host)).CheckAll(ResponseRecorder.All);
        await RemoveTestMachinesAsync();
        await Host.DisposeAsync();
        await Fake.DisposeAsync();
        if (violations.Count > 0)
        {
            throw new InvalidOperationException(
                $"{violations.Count} responses do not match the OpenAPI document:\n" + string.Join('\n', violations));
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AppCollection : ICollectionFixture<AppFixture>
{
    public const string Name = "app";
}
