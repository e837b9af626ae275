using JasperFx;
using Marten;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Keys;
using Pantheon.Handlers.Projects;
using Pantheon.Projections.Projects;
using Pantheon.Tools.Files;
using Pantheon.Tools.Mcp;
using Pantheon.Tools.Network;
using Pantheon.Tools.Projects;
using Pantheon.Tools.Screen;

namespace Pantheon.Tools;

/// <summary>
/// Composition of the tools API: an MCP server (Streamable HTTP, stateless, at <c>/</c> so that <c>MCP_TOOLS_API_URL</c> is
/// the endpoint itself) over the backend's database, which it reads (<see cref="ProjectView"/>) and appends tool events to.
/// </summary>
public static class ToolsApp
{
    public static WebApplication Build(string[] args, IDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (overrides is not null) builder.Configuration.AddInMemoryCollection(overrides);
        var configuration = builder.Configuration;
        var services = builder.Services;

        var settings = configuration.GetSection(ToolsSettings.Section).Get<ToolsSettings>() ?? new ToolsSettings();
        builder.WebHost.UseUrls(settings.Urls);
        services.AddSingleton(settings);
        services.AddSingleton(configuration.GetSection(ProjectSettings.Section).Get<ProjectSettings>() ?? new ProjectSettings());
        DockerSettings.AddDockerEngine(services, configuration);
        services.AddSingleton(MasterSecret.From(configuration[MasterSecret.ConfigurationKey], builder.Environment.IsDevelopment()));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SharedFolders>();
        services.AddSingleton<ProjectDirectory>();
        services.AddSingleton<ProjectAuthentication>();
        services.AddSingleton<SharedFolderFiles>();
        services.AddSingleton<VmScreen>();
        services.AddSingleton<ToolRecorder>();
        services.AddSingleton<HostNetwork>();
        if (settings.ManageHostNetwork) services.AddHostedService<HostNetworkService>();
        services.AddSingleton<IVmHost, DockerVmHost>();
        services.AddSingleton<ContainerNetwork>();
        if (settings.Container is { Length: > 0 }) services.AddHostedService<ContainerNetworkService>();
        services.AddHttpContextAccessor();

        var connectionString = configuration.GetConnectionString("Marten")
            ?? throw new InvalidOperationException("ConnectionStrings:Marten is not configured.");
        services.AddMarten(opts =>
        {
            opts.Connection(DatabaseRoles.Prepared(connectionString)); // plans kept across uses from the pool, as the backend's
            opts.DatabaseSchemaName = configuration["Marten:Schema"] ?? "pantheon";
            // The backend owns the schema: the tools API never creates or changes a table.
            opts.AutoCreateSchemaObjects = AutoCreate.None;
            opts.UseSystemTextJsonForSerialization(Weasel.Core.EnumStorage.AsString, Weasel.Core.Casing.Default);
            opts.Events.MetadataConfig.CorrelationIdEnabled = true;
            opts.Events.MetadataConfig.CausationIdEnabled = true;
            opts.Events.MetadataConfig.HeadersEnabled = true;
            opts.Events.MetadataConfig.UserNameEnabled = true;
            opts.Events.AddEventType<ToolCalled>();
            opts.Events.AddEventType<ToolReturned>();
            opts.Schema.For<ProjectView>().Index(x => x.OwnerId);
        }).UseLightweightSessions();

        services.AddMcpServer(o => o.ServerInfo = new() { Name = "pantheon-tools", Version = "1.0.0" })
            .WithHttpTransport(o => o.Stateless = true)
            .WithTools<ProjectTools>()
            .WithRequestFilters(filters => filters.AddCallToolFilter(next => (context, ct) =>
            {
                var http = context.Services!.GetRequiredService<IHttpContextAccessor>().HttpContext!;
                return context.Services!.GetRequiredService<ToolRecorder>().RecordAsync(context, next, http, ct);
            }));

        var app = builder.Build();
        app.MapGet("/health", () => Results.Ok(new { status = "healthy" }));
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/health"))
            {
                await next(context);
                return;
            }
            var auth = context.RequestServices.GetRequiredService<ProjectAuthentication>();
            var (project, refusal) = await auth.AuthenticateAsync(context, context.RequestAborted);
            if (project is null)
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: refusal)
                    .ExecuteAsync(context);
                return;
            }
            ToolCallerContext.Set(context, project);
            await next(context);
        });
        app.MapMcp("/");
        return app;
    }
}
