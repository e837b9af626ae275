using Marten;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Settings;
using Pantheon.Projections.Projects;

namespace Pantheon.Handlers.Chat;

/// <summary>Why an agent turn cannot have its project's VM: it is not ready, and will not be (failed, deleting) or not in time.</summary>
public sealed record ProjectNotReady(ProjectStatus Status, int? WaitedSeconds);

/// <summary>An agent turn's project: woken by the chat (<c>WakeProject</c>), then waited for until its VM is ready.</summary>
public sealed class AgentProjects(ActorSessions sessions, ChatDefaults settings, TimeProvider time)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>Null once the project is ready; else why not, within <c>Chat:ProjectReadySeconds</c>.</summary>
    public async Task<ProjectNotReady?> WaitReadyAsync(Guid projectId, string userId, CancellationToken ct)
    {
        var deadline = time.GetUtcNow().AddSeconds(settings.ProjectReadySeconds);
        while (true)
        {
            await using var session = await sessions.ForAsync(new DatabaseActor.User(userId), ct); // the user's own project
            var status = (await session.LoadAsync<ProjectView>(projectId, ct))?.Status ?? ProjectStatus.Deleted;
            if (status == ProjectStatus.Ready) return null;
            if (status is ProjectStatus.Failed or ProjectStatus.Deleting or ProjectStatus.Deleted) return new ProjectNotReady(status, null);
            if (time.GetUtcNow() >= deadline) return new ProjectNotReady(status, settings.ProjectReadySeconds);
            await Task.Delay(Poll, time, ct); // the VM boots on its own time: its status is read again
        }
    }
}
