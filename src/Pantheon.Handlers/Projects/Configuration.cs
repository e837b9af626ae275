using JasperFx.Events.Projections;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Projections.Projects;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Pantheon.Handlers.Projects;

/// <summary>
/// Everything the projects feature registers. The <c>Project</c> aggregate is live (rebuilt from its short stream on each
/// fetch for writing), so it needs no registration; <see cref="ProjectView"/> is its inline read model.
/// </summary>
public static class ProjectConfiguration
{
    public static StoreOptions AddProjects(this StoreOptions opts)
    {
        opts.Projections.Add<ProjectViewProjection>(ProjectionLifecycle.Inline);
        opts.Schema.For<ProjectView>().Index(x => x.OwnerId);
        opts.Schema.For<SubnetLease>().Index(x => x.ProjectId);
        opts.Schema.For<ProjectProvisioning>();

        var activity = new Table(new PostgresqlObjectName(opts.DatabaseSchemaName, ProjectActivity.Table,
            SchemaUtils.IdentifierUsage.General));
        activity.AddColumn<Guid>("project_id").AsPrimaryKey();
        activity.AddColumn("last_active", "timestamptz").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(activity);
        return opts;
    }

    public static IServiceCollection AddProjects(this IServiceCollection services, IConfiguration configuration)
    {
        var settings = configuration.GetSection(ProjectSettings.Section).Get<ProjectSettings>() ?? new ProjectSettings();
        services.AddSingleton(settings);
        services.AddSingleton(configuration.GetSection(VmSettings.Section).Get<VmSettings>() ?? new VmSettings());
        services.AddSingleton<IVmHost, DockerVmHost>();
        services.AddSingleton<SharedFolders>();
        services.AddSingleton<SubnetLeases>();
        services.AddSingleton<ProvisioningContext>();
        services.AddSingleton<ProjectActivity>();
        if (configuration.GetValue("Projects:ReconcilerEnabled", true)) services.AddHostedService<ReconcilerService>();
        services.AddHostedService<IdleStopService>();
        return services;
    }
}
