using Marten;
using Pantheon.Domain.Projects;
using Wolverine;

namespace Pantheon.Handlers.Projects;

/// <summary>
/// Start a project on demand, for any feature that needs its VM (a chat about the project now, the viewer after). Invoke
/// it with <c>IMessageBus.InvokeAsync&lt;WakeAnswer&gt;</c>: a stopped VM starts, a stopping one starts again once stopped,
/// anything else is left as it is. <paramref name="UserId"/>, when given, must own the project.
/// </summary>
public sealed record WakeProject(Guid ProjectId, string? UserId);

/// <summary>
/// What <see cref="WakeProject"/> found: <see cref="Found"/> false for a missing (or another user's) project, else the
/// status after it, and whether the VM is on its way rather than running or provisioning (<see cref="MustWait"/>).
/// </summary>
public sealed record WakeAnswer(bool Found, ProjectStatus Status)
{
    public bool MustWait => Found && Status is ProjectStatus.Starting or ProjectStatus.Stopping or ProjectStatus.Stopped;
}

public static class WakeProjectHandler
{
    public static async Task<(WakeAnswer, OutgoingMessages)> Handle(WakeProject command, IDocumentSession session, TimeProvider time,
        CancellationToken ct)
    {
        var stream = await session.Events.FetchForWriting<Project>(command.ProjectId, ct);
        if (stream.Aggregate is not { } project || command.UserId is { } user && project.OwnerId != user)
            return (new WakeAnswer(false, ProjectStatus.Deleted), []);

        var decision = ProjectDecider.Wake(project, time.GetUtcNow());
        stream.AppendMany(decision.Events);
        var answer = new WakeAnswer(true, ProjectStatuses.After(decision.Events, project.Status));
        return (answer, ProjectSagaMessages.For(project.Id, decision.Events));
    }
}

/// <summary>Stop a project's VM if it has been idle for <c>Projects:IdleStopMinutes</c>; sent by <see cref="IdleStopService"/>.</summary>
public sealed record StopIfIdle(Guid ProjectId, DateTimeOffset? LastActive);

public static class StopIfIdleHandler
{
    public static async Task<OutgoingMessages> Handle(StopIfIdle command, IDocumentSession session, ProjectSettings settings,
        TimeProvider time, CancellationToken ct)
    {
        var stream = await session.Events.FetchForWriting<Project>(command.ProjectId, ct);
        if (stream.Aggregate is not { } project) return [];
        var events = ProjectDecider.StopIfIdle(project, command.LastActive, settings.IdleStopAfter, time.GetUtcNow());
        stream.AppendMany(events);
        return ProjectSagaMessages.For(project.Id, events);
    }
}
