using System.Text.Json;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using Pantheon.Domain.Projects;

namespace Pantheon.Web.Live;

/// <summary>What a project's event means for a watching client.</summary>
public sealed record ProjectUpdate(Guid ProjectId, string? OwnerId, string Status, string Event, DateTimeOffset At);

/// <summary>
/// Inline, so it runs in the transaction that appends the events: a <c>pg_notify</c> queued there reaches every listening
/// backend process when, and only if, the events commit. It is a hint to look (<see cref="LiveUpdates"/> reads the events
/// themselves), so a notification that never arrives delays an update, and loses nothing.
/// </summary>
public sealed class ProjectUpdateNotifier : IProjection
{
    public const string Channel = "pantheon_project_updates";

    public Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        foreach (var e in events)
        {
            if (StatusAfter(e.Data) is not var (status, at)) continue;
            var owner = (e.Data as ProjectRequested)?.OwnerId;
            var update = new ProjectUpdate(e.StreamId, owner, status, e.EventTypeName, at);
            operations.QueueSqlCommand("select pg_notify(?, ?)", Channel, JsonSerializer.Serialize(update));
        }
        return Task.CompletedTask;
    }

    /// <summary>The project's status after the event, and the event's own time; null for events a client is not told of.</summary>
    // The events' own times: quick append fills no IEvent metadata before the transaction commits.
    public static (string Status, DateTimeOffset At)? StatusAfter(object data) => data switch
    {
        ProjectRequested e => ("requested", e.At),
        NetworkAllocated e => ("provisioning", e.At),
        SharedFolderPrepared e => ("provisioning", e.At),
        VmBooted e => ("ready", e.At),
        ProjectProvisioningFailed e => ("failed", e.At),
        ProjectDeletionRequested e => ("deleting", e.At),
        ProjectDeleted e => ("deleted", e.At),
        _ => null,
    };
}
