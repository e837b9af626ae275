using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Pantheon.Handlers.Viewer;

/// <summary>Everything the viewer feature registers: its ticket table, the ticket store, the session cookie and settings.</summary>
public static class ViewerConfiguration
{
    public static StoreOptions AddViewer(this StoreOptions opts)
    {
        var name = new PostgresqlObjectName(opts.DatabaseSchemaName, ViewerTickets.Table, SchemaUtils.IdentifierUsage.General);
        var tickets = new Table(name);
        tickets.AddColumn<string>("id").AsPrimaryKey();
        tickets.AddColumn<string>("user_id").NotNull();
        tickets.AddColumn<Guid>("project_id").NotNull();
        tickets.AddColumn("expires_at", "timestamptz").NotNull();
        tickets.Indexes.Add(new IndexDefinition($"ix_{ViewerTickets.Table}_expires_at") { Columns = ["expires_at"] });
        opts.Storage.ExtendedSchemaObjects.Add(tickets);
        return opts;
    }

    public static IServiceCollection AddViewer(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(configuration.GetSection(ViewerSettings.Section).Get<ViewerSettings>() ?? new ViewerSettings());
        services.AddSingleton<ViewerTickets>();
        services.AddSingleton<ViewerSessions>();
        return services;
    }
}
