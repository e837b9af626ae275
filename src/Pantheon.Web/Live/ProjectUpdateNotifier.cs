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
    public const string Channel = Pantheon.Handlers.Projects.ProjectChannels.Updates;

    public Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        foreach (var e in events)
        {
            // The same mapping as the read model's; the events' own times, since quick append fills no metadata before commit.
            if (ProjectStatuses.Of(e.Data) is not { } status || ProjectStatuses.TimeOf(e.Data) is not { } at) continue;
            var owner = (e.Data as ProjectRequested)?.OwnerId;
            var update = new ProjectUpdate(e.StreamId, owner, Wire(status), e.EventTypeName, at);
            operations.QueueSqlCommand("select pg_notify(?, ?)", Channel, JsonSerializer.Serialize(update));
        }
        return Task.CompletedTask;
    }

    /// <summary>The project's status after the event, and the event's own time; null for events a client is not told of.</summary>
    // The events' own times: quick append fills no IEvent metadata before the transaction commits.
    public static (string Status, DateTimeOffset At)? StatusAfter(object data) =>
        ProjectStatuses.Of(data) is { } status && ProjectStatuses.TimeOf(data) is { } at ? (Wire(status), at) : null;

    /// <summary>The status as the API spells it (snake_case).</summary>
    public static string Wire(ProjectStatus status) => JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString());
}
