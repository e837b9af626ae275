using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Projections.Projects;
using Wolverine;

namespace Pantheon.Handlers.Projects;

/// <summary>Asks for one pass of the reconciler.</summary>
public sealed record ReconcileOrphans;

/// <summary>
/// Removes labelled containers, networks and volumes that no live project owns (a crash between a Docker call and
/// its event, a step that raced a deletion, a failed project whose clean-up found the engine away), and records each
/// removal in the reconciler's stream.
/// </summary>
public static class ReconcileOrphansHandler
{
    /// <summary>The stream that holds <see cref="OrphanRemoved"/> events.</summary>
    public static readonly Guid StreamId = new("7a1f0000-0000-4000-8000-00000000ec01");

    public static async Task Handle(ReconcileOrphans message, IVmHost host, SharedFolders folders,
        IDocumentSession session, TimeProvider time, ILogger<ReconcileOrphans> logger, CancellationToken ct)
    {
        var resources = await host.ListLabelledAsync(ct);
        var owners = resources.Select(r => r.ProjectId).Distinct().ToList();
        // A failed project owns nothing: its failure removed what it made, or left it here when the engine did not answer.
        var live = (await session.Query<ProjectView>().Where(p => owners.Contains(p.Id) && p.Status != ProjectStatus.Failed)
            .Select(p => p.Id).ToListAsync(ct)).ToHashSet();

        var removed = new List<OrphanRemoved>();
        // Containers before networks and volumes: the engine refuses to remove a network or volume still in use.
        foreach (var orphan in resources.Where(r => !live.Contains(r.ProjectId)).OrderBy(r => r.Kind == "container" ? 0 : 1))
        {
            await host.RemoveAsync(orphan, ct);
            folders.Remove(orphan.ProjectId);
            logger.LogWarning("Removed orphaned {Kind} {Name} ({Id}) of project {ProjectId}", orphan.Kind, orphan.Name, orphan.Id, orphan.ProjectId);
            removed.Add(new OrphanRemoved(orphan.Kind, orphan.Id, orphan.Name, orphan.ProjectId, time.GetUtcNow()));
        }
        if (removed.Count > 0) session.Events.Append(StreamId, removed.ToArray<object>());
    }
}

/// <summary>Runs the reconciler at start-up and then every <see cref="ProjectSettings.ReconcileIntervalSeconds"/>.</summary>
public sealed class ReconcilerService(
    IServiceProvider services, IHostApplicationLifetime lifetime, ProjectSettings settings, ILogger<ReconcilerService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await lifetime.WhenStartedAsync(stoppingToken); // the start-up pass sends a message
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(settings.ReconcileIntervalSeconds));
        do
        {
            try
            {
                // IMessageBus is scoped: one scope per pass.
                await using var scope = services.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<IMessageBus>().InvokeAsync(new ReconcileOrphans(), stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One failed pass (the engine not answering) must not stop the next one; it is logged, not hidden.
                logger.LogError(e, "The reconciler pass failed; trying again in {Seconds} s", settings.ReconcileIntervalSeconds);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
