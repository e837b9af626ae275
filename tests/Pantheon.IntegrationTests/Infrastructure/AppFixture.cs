using System.Runtime.CompilerServices;
using Pantheon.TestSupport;
using Alba;
using Marten;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
        Host = await StartAsync(settings, Logs, messageSchema: MessageSchema(GetType().Name));
        await Host.ResetAllPantheonDataAsync();
        await RemoveTestMachinesAsync();
    }

    /// <summary>Every container, network and volume of earlier test runs: with the data reset, none has an owner.</summary>
    private async Task RemoveTestMachinesAsync()
    {
        await TestMachines.RemoveAllAsync(Host.Services.GetRequiredService<IVmHost>());
        if (Directory.Exists(TestSettings.DataRoot)) Directory.Delete(TestSettings.DataRoot, recursive: true);
    }

    /// <summary>
    /// A test host in Solo mode. A Solo host releases the ownership of every message in its message storage when it starts
    /// (it takes itself for the only node), and every Solo host is node 1: hosts sharing one storage take each other's
    /// saga steps. So each host gets the Wolverine schema of its collection: <paramref name="messageSchema"/>, else one
    /// named after the calling file (one test class, one collection), shared only by the hosts that class starts.
    /// The host runs as the application role, which creates no schema: the message schema is made first, once per run, by
    /// <c>resources setup</c> as the owner role (<see cref="TestDatabase.EnsureMessageSchemaAsync"/>).
    /// </summary>
    public static async Task<IAlbaHost> StartAsync(Dictionary<string, string?> settings, LogCapture? logs = null,
        string environment = "Testing", Action<IServiceCollection>? services = null, string? messageSchema = null,
        [CallerFilePath] string caller = "")
    {
        var schema = settings.TryGetValue(MessageSchemaSetting, out var own) && own is { Length: > 0 }
            ? own : messageSchema ?? MessageSchema(Path.GetFileNameWithoutExtension(caller));
        if (settings.TryGetValue("ConnectionStrings:Marten", out var database) && database is { Length: > 0 })
        {
            if (SameDatabase(database, TestDatabase.ConnectionString)) await TestDatabase.EnsureCreatedAsync();
            await TestDatabase.EnsureMessageSchemaAsync(database, schema);
        }
        return await ForAsync(b =>
        {
            b.UseEnvironment(environment);
            foreach (var (key, value) in settings) b.UseSetting(key, value);
            if (!settings.ContainsKey(MessageSchemaSetting)) b.UseSetting(MessageSchemaSetting, schema);
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
    }

    /// <summary>
    /// <see cref="AlbaHost.For{TEntryPoint}(Action{IWebHostBuilder}, IAlbaExtension[])"/>, but a host that fails to start
    /// is disposed. Otherwise the hosted services it had started before the failure (live updates, among others) run and
    /// retry until the test process ends, since nobody holds the host to stop them.
    /// </summary>
    public static async Task<IAlbaHost> ForAsync(Action<IWebHostBuilder> configure)
    {
        // The root service provider, taken when the first hosted service is resolved: before any of them starts.
        IServiceProvider? root = null;
        try
        {
            return await AlbaHost.For<Program>(b =>
            {
                configure(b);
                b.ConfigureServices(services => services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp =>
                {
                    root = sp;
                    return new NoWork();
                })));
            });
        }
        catch (Exception failure)
        {
            try
            {
                // Disposing it cancels every BackgroundService it made.
                if (root is IAsyncDisposable services) await services.DisposeAsync();
            }
            catch (Exception cleanup)
            {
                throw new AggregateException("The test host failed to start, then to dispose its services", failure, cleanup);
            }
            throw;
        }
    }

    private sealed class NoWork : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static bool SameDatabase(string one, string other) =>
        new Npgsql.NpgsqlConnectionStringBuilder(one) is var a && new Npgsql.NpgsqlConnectionStringBuilder(other) is var b
        && a.Host == b.Host && a.Port == b.Port && a.Database == b.Database;

    public const string MessageSchemaSetting = "Durability:MessageSchema";

    /// <summary>The Wolverine schema of the hosts of one test collection.</summary>
    public static string MessageSchema(string collection) => "wolverine_" + collection.ToLowerInvariant();

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
