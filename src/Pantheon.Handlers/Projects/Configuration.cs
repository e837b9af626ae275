using JasperFx.Events.Projections;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Projections.Projects;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;
using Wolverine;
using Wolverine.Configuration;

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
        // One lease per project, across every backend process: a step that ran twice at once on two nodes leases once.
        opts.Schema.For<SubnetLease>().UniqueIndex(x => x.ProjectId);
        opts.Schema.For<ProjectProvisioning>();

        var activity = new Table(new PostgresqlObjectName(opts.DatabaseSchemaName, ProjectActivity.Table,
            SchemaUtils.IdentifierUsage.General));
        activity.AddColumn<Guid>("project_id").AsPrimaryKey();
        activity.AddColumn("last_active", "timestamptz").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(activity);
        return opts;
    }

    /// <summary>
    /// A project's saga messages run one at a time, whatever the parallelism: every <see cref="IProjectStep"/> is grouped by
    /// its project (Wolverine's partitioned sequential messaging) and routed to one of <see cref="ProjectSettings.StepQueues"/>
    /// local queues, where one lane per group runs them in order. Without it each message type had a queue of its own, and a
    /// redelivered, retried or racing message of one project (a step and a deletion, a stop and a health poll) ran beside
    /// another of the same project, each sure of being the only one. The group id is read from the message itself, so a
    /// message recovered from the durable inbox lands in the same lane.
    /// </summary>
    public static WolverineOptions AddProjects(this WolverineOptions opts, IConfiguration configuration)
    {
        var settings = configuration.GetSection(ProjectSettings.Section).Get<ProjectSettings>() ?? new ProjectSettings();
        opts.MessagePartitioning
            .ByMessage<IProjectStep>(m => m.ProjectId.ToString())
            .PublishToPartitionedLocalMessaging(StepQueueName, settings.StepQueues, topology =>
            {
                topology.MessagesImplementing<IProjectStep>();
                topology.MaxDegreeOfParallelism = PartitionSlots.Nine;
            });
        return opts;
    }

    /// <summary>The base name of the saga's local queues (<c>project-steps1</c>, <c>project-steps2</c>, ...).</summary>
    public const string StepQueueName = "project-steps";

    public static IServiceCollection AddProjects(this IServiceCollection services, IConfiguration configuration)
    {
        var settings = configuration.GetSection(ProjectSettings.Section).Get<ProjectSettings>() ?? new ProjectSettings();
        services.AddSingleton(settings);
        var vm = configuration.GetSection(VmSettings.Section).Get<VmSettings>() ?? new VmSettings();
        services.AddSingleton(vm);
        services.AddSingleton<IVmHost, DockerVmHost>();
        services.AddSingleton<SharedFolders>();
        services.AddSingleton<SubnetLeases>();
        services.AddSingleton<ProvisioningContext>();
        services.AddSingleton<VmWaits>();
        services.AddSingleton<ProjectActivity>();
        if (configuration.GetValue("Projects:ReconcilerEnabled", true)) services.AddHostedService<ReconcilerService>();
        services.AddHostedService<IdleStopService>();
        if (vm.EngineEvents) services.AddHostedService<VmEventWatcher>();
        return services;
    }
}
