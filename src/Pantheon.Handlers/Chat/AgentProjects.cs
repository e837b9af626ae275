using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Projects;
using Pantheon.Handlers.Settings;
using Pantheon.Projections.Projects;

namespace Pantheon.Handlers.Chat;

/// <summary>Why an agent turn cannot have its project's VM: it is not ready, and will not be (failed, deleting) or not in time.</summary>
public sealed record ProjectNotReady(ProjectStatus Status, int? WaitedSeconds);

/// <summary>
/// An agent turn's project: woken by the chat (<c>WakeProject</c>), then waited for until its VM is ready. A waiting turn reads
/// the project's status again when any project's status changes (<see cref="ProjectChannels.Updates"/>, which every
/// process's status commits announce), and at least every <see cref="Fallback"/> in case an announcement is missed.
/// </summary>
public sealed class AgentProjects(ActorSessions sessions, ChatDefaults settings, TimeProvider time) : INotificationListener
{
    private static readonly TimeSpan Fallback = TimeSpan.FromSeconds(2);

    // Completed (and replaced) whenever a project's status changes: every waiting turn looks again.
    private TaskCompletionSource _changed = NewSignal();

    public string Channel => ProjectChannels.Updates;

    public void Notified(string payload) => Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();

    public void Connected() => Notified(""); // whatever changed while the connection was down

    public void Lost()
    {
        // Nothing to do: waiting turns look again every Fallback, and everyone looks once the connection is back.
    }

    /// <summary>Null once the project is ready; else why not, within <c>Chat:ProjectReadySeconds</c>.</summary>
    public async Task<ProjectNotReady?> WaitReadyAsync(Guid projectId, string userId, CancellationToken ct)
    {
        var deadline = time.GetUtcNow().AddSeconds(settings.ProjectReadySeconds);
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task; // taken before the read: a change during it is not missed
            ProjectStatus status;
            await using (var session = await sessions.ForAsync(new DatabaseActor.User(userId), ct)) // the user's own project
                status = (await session.LoadAsync<ProjectView>(projectId, ct))?.Status ?? ProjectStatus.Deleted;
            if (status == ProjectStatus.Ready) return null;
            if (status is ProjectStatus.Failed or ProjectStatus.Deleting or ProjectStatus.Deleted) return new ProjectNotReady(status, null);
            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero) return new ProjectNotReady(status, settings.ProjectReadySeconds);
            await Task.WhenAny(changed, Task.Delay(left < Fallback ? left : Fallback, time, ct));
            ct.ThrowIfCancellationRequested();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
