using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using JasperFx.CodeGeneration;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using Npgsql;
using Pantheon.Domain.Keys;
using Pantheon.Domain.Settings;
using Pantheon.Domain.Users;
using Pantheon.Handlers.Budgets;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Keys;
using Pantheon.Handlers.Projects;
using Pantheon.Handlers.Chat;
using Pantheon.Domain.Chat;
using Pantheon.Projections.Chat;
using Pantheon.Projections.Audit;
using Pantheon.Projections.Projects;
using JasperFx;
using Pantheon.Handlers.Settings;
using Pantheon.Handlers.Viewer;
using Pantheon.Projections.Keys;
using Pantheon.Web.Admin;
using Pantheon.Web.Auth;
using Pantheon.Web.Chat;
using Pantheon.Web.Durability;
using Pantheon.Web.Limits;
using Pantheon.Web.Live;
using Pantheon.Web.Health;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.OpenApi;
using Pantheon.Web.RowSecurity;
using Pantheon.Web.Viewer;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Http;
using Wolverine.Marten;

namespace Pantheon.Web;

/// <summary>Composition of the backend: services in <see cref="AddPantheon"/>, the pipeline in <see cref="UsePantheon"/>.</summary>
public static class PantheonApp
{
    public const string ConnectionStringName = DatabaseRoles.ConnectionStringName;

    /// <summary>
    /// The backend's services. <paramref name="asSchemaOwner"/> only for the commands that change the schema or rewrite read
    /// models (<c>resources</c>, <c>projections</c>, <c>db-*</c>, see Program.cs): they connect as the owner role. It is a
    /// parameter, not configuration, so that no environment can switch a running backend to the owner role.
    /// </summary>
    public static WebApplicationBuilder AddPantheon(this WebApplicationBuilder builder, bool asSchemaOwner = false)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        var environment = builder.Environment;

        var connectionString = DatabaseRoles.Prepared(configuration.GetConnectionString(ConnectionStringName)
            ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionStringName} is not configured."));
        var roles = new DatabaseRoles(connectionString, configuration.GetConnectionString(DatabaseRoles.OwnerConnectionStringName));
        // The backend runs as the application role and changes no schema; `resources setup` runs as the owner role.
        var martenConnection = asSchemaOwner
            ? DatabaseRoles.System(roles.Owner ?? throw new InvalidOperationException(
                $"ConnectionStrings:{DatabaseRoles.OwnerConnectionStringName} is not configured: this command changes the schema."))
            : DatabaseRoles.System(connectionString);

        services.AddSingleton(MasterSecret.From(configuration[MasterSecret.ConfigurationKey], environment.IsDevelopment()));
        services.AddSingleton<IProviderKeyCipher, ProviderKeyCipher>();
        services.AddSingleton(TimeProvider.System);
        // Connections without an actor: every use sets one per transaction (DatabaseActor), or sees no user-owned row.
        services.AddSingleton(NpgsqlDataSource.Create(connectionString));
        services.AddSingleton(roles);
        services.AddSingleton(RowSecurityConfiguration.UserOwnedTables());
        services.AddSingleton<RowSecuritySetup>();
        services.AddSingleton<JasperFx.CommandLine.Descriptions.ISystemPart, RowSecurityPart>(); // resources setup: grants and row policies
        services.AddSingleton<ActorSessions>();
        DockerSettings.AddDockerEngine(services, configuration);
        services.AddProjects(configuration);
        services.AddChat(configuration);
        services.AddLiveUpdates(configuration);
        // One LISTEN connection per process, for every feature's notifications (live updates, the chat setup cache).
        services.AddSingleton<PostgresNotifications>();
        services.AddHostedService(s => s.GetRequiredService<PostgresNotifications>());
        services.AddBudgets(configuration);
        services.AddViewer(configuration);
        services.AddViewerProxy();

        services.AddPantheonAuthentication(configuration, environment);
        services.AddPantheonLimits(configuration);
        services.AddPantheonHealthChecks();
        services.AddProblemDetails();
        services.AddPantheonOpenApi();
        services.ConfigureHttpJsonOptions(o => Json.Configure(o.SerializerOptions));
        AddValidators(services);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = RequestBodyLimit.MaxBytes);

        var schema = configuration["Marten:Schema"] ?? "pantheon";
        var cluster = configuration.ClusterSettings();
        var usage = new UsageTotals(schema);
        services.AddSingleton(usage);

        services.AddMarten(opts =>
        {
            // The store's own connections are the system path (Marten's daemon, the operators' commands); sessions for
            // requests and handlers come from ActorSessions on connections that carry no actor.
            opts.Connection(martenConnection);
            opts.AutoCreateSchemaObjects = asSchemaOwner ? JasperFx.AutoCreate.CreateOrUpdate : JasperFx.AutoCreate.None;
            opts.DatabaseSchemaName = schema;
            opts.UseSystemTextJsonForSerialization(Weasel.Core.EnumStorage.AsString, Weasel.Core.Casing.Default);

            opts.Events.MetadataConfig.CorrelationIdEnabled = true;
            opts.Events.MetadataConfig.CausationIdEnabled = true;
            opts.Events.MetadataConfig.HeadersEnabled = true;
            opts.Events.MetadataConfig.UserNameEnabled = true;

            opts.Projections.Snapshot<User>(SnapshotLifecycle.Inline);
            opts.Projections.Snapshot<UserSettings>(SnapshotLifecycle.Inline);
            opts.Projections.Add<ProviderKeyViewProjection>(ProjectionLifecycle.Inline);
            opts.Schema.For<ProviderKeyView>().Index(x => x.UserId);
            opts.Schema.For<ProviderKeySecret>().Index(x => x.UserId);

            opts.AddProjects();
            opts.Projections.Add<ProjectOverviewProjection>(ProjectionLifecycle.Inline);
            opts.Schema.For<ProjectOverview>().Duplicate(x => x.Status).Duplicate(x => x.OwnerId).Duplicate(x => x.SortKey);
            opts.AddChat();
            opts.Projections.Add(new UsageTotalsProjection(usage), ProjectionLifecycle.Inline);
            foreach (var table in usage.Tables()) opts.Storage.ExtendedSchemaObjects.Add(table);
            opts.AddBudgets();
            opts.AddViewer();
            opts.AddChatNotifications(); // after the inline projections of the events they watch

            opts.Projections.Add(new AuditProjection(), ProjectionLifecycle.Async, AuditProjection.Name);
            opts.Projections.Add(new ProjectUpdateNotifier(), ProjectionLifecycle.Inline, "ProjectUpdates");
            opts.Schema.For<AuditEntry>().Index(x => x.UserId).Index(x => x.Stream).Index(x => x.Type).Index(x => x.At);
            opts.UseClusterTimings(cluster);
        })
        .AddAsyncDaemon(JasperFx.Events.Daemon.DaemonMode.HotCold)
        .IntegrateWithWolverine();
        services.AddSingleton<ISessionFactory>(sp => sp.GetRequiredService<ActorSessions>());

        builder.Host.UseWolverine(opts =>
        {
            // The generated code lives here, whichever process hosts the app (tests and benchmarks host it too).
            opts.ApplicationAssembly = typeof(PantheonAppMarker).Assembly;
            opts.Discovery.IncludeAssembly(typeof(ProviderKeyCipher).Assembly);
            opts.EnableRelayOfUserName = true; // the token's sub becomes the session's user name on every event
            opts.AutoBuildMessageStorageOnStartup = asSchemaOwner ? JasperFx.AutoCreate.CreateOrUpdate : JasperFx.AutoCreate.None;
            opts.Policies.AutoApplyTransactions();
            // Message handlers (the saga, the reconciler) act for no user: they enter the system path by name.
            opts.Policies.AddMiddleware(typeof(SystemWork));
            opts.Policies.UseDurableLocalQueues();
            opts.Policies.UseDurableOutboxOnAllSendingEndpoints();
            opts.Policies.UseDurableInboxOnAllListeners();
            opts.AddProjects(configuration);
            // Two handlers of one saga at once: the loser reloads and runs again on the newer state.
            opts.OnException<ConcurrencyException>().Or<SagaConcurrencyException>()
                .RetryWithCooldown(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500));
            // PostgreSQL away for a moment (a restart, a failover, a dropped connection): the step waits and runs again rather
            // than going to the dead letters, in memory first, then as a scheduled retry once the database is back.
            opts.OnException<NpgsqlException>(e => e.IsTransient).OrInner<NpgsqlException>(e => e.IsTransient)
                .RetryWithCooldown(TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1),
                    TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4))
                .Then.ScheduleRetry(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));
            // Health polls of a booting VM are scheduled messages: look for due ones often.
            opts.Durability.ScheduledJobPollingTime = TimeSpan.FromMilliseconds(configuration.GetValue("Projects:ScheduledPollingMilliseconds", 250));
            opts.UseClusterTimings(cluster, schema);

            // Generated handler code is committed (codegen write) and loaded statically outside development;
            // Codegen:TypeLoadMode overrides it (the startup benchmark compares both on one binary).
            opts.CodeGeneration.TypeLoadMode = configuration.GetValue<TypeLoadMode?>("Codegen:TypeLoadMode")
                ?? (environment.IsDevelopment() ? TypeLoadMode.Dynamic : TypeLoadMode.Static);
            opts.UseRuntimeCompilation();
        });

        services.AddWolverineHttp();
        return builder;
    }

    /// <summary>Every validator nested in this assembly's commands, as a singleton (they hold no state).</summary>
    private static void AddValidators(IServiceCollection services)
    {
        var validators = typeof(PantheonAppMarker).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false })
            .SelectMany(t => t.GetInterfaces().Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidator<>)), (t, i) => (t, i));
        foreach (var (type, service) in validators) services.AddSingleton(service, type);
    }

    public static WebApplication UsePantheon(this WebApplication app)
    {
        app.UseExceptionHandler();
        // The operations page: plain static files, signed in with a pasted token.
        app.UseAdminPageHeaders();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseStatusCodePages();
        app.UseRequestBodyLimit();
        app.UseEventStreamAccept();
        app.UseAuthentication();
        app.UseViewerProxy();
        app.UseAuthorization();
        app.UsePantheonRateLimits();
        app.UseDatabaseActor();

        app.MapPantheonOpenApi();
        app.MapPantheonHealth();
        app.MapLiveUpdates();
        app.MapWolverineEndpoints(opts =>
        {
            opts.RequireAuthorizeOnAll();
            opts.RejectUnparseableQueryValues = true; // '?limit=abc' is a 400, not a silent default
            opts.AddPolicy<FluentValidationPolicy>();
            opts.ConfigureEndpoints(LimitsConfiguration.ApplyRateLimitPolicies);
        });
        return app;
    }
}

/// <summary>Anchors assembly scans of this project.</summary>
public sealed class PantheonAppMarker;

/// <summary>The JSON shape of the HTTP API: snake_case, enums as strings.</summary>
public static class Json
{
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        // Numbers are numbers: the web defaults also read "42" as 42, which the OpenAPI document shows as integer | string.
        options.NumberHandling = JsonNumberHandling.Strict;
    }
}
