namespace Pantheon.Domain.Projects;

/// <summary>
/// The project's write model, rebuilt from its stream: what the decider and the provisioning saga decide from.
/// Streams written before it existed (started as <c>ProjectView</c>) load as it too: Marten keys a stream by id, not type.
/// </summary>
public sealed partial class Project
{
    public Guid Id { get; set; }
    public string OwnerId { get; set; } = "";
    public string Name { get; set; } = "";
    public ProjectStatus Status { get; set; }
    public Subnet? Subnet { get; set; }
    public string? NetworkName { get; set; }
    public string? VmContainerId { get; set; }
    /// <summary>Why the VM is stopping or stopped (<see cref="LifecycleReasons"/>).</summary>
    public string? StopReason { get; set; }
    /// <summary>While stopping: start again once stopped (a restart, or a start on demand that came mid-stop).</summary>
    public bool StartAfterStop { get; set; }
    public string? StartReason { get; set; }
    /// <summary>When the VM last became ready: idleness counts from here when nothing used it since.</summary>
    public DateTimeOffset? ReadySince { get; set; }
    public int Version { get; set; }

    public static Project Create(ProjectRequested e) =>
        new() { Id = e.ProjectId, OwnerId = e.OwnerId, Name = e.Name, Status = ProjectStatus.Requested };

    public void Apply(NetworkAllocated e)
    {
        Status = ProjectStatuses.After(e, Status);
        Subnet = e.Subnet;
        NetworkName = e.NetworkName;
    }

    public void Apply(SharedFolderPrepared e) => Status = ProjectStatuses.After(e, Status);

    public void Apply(VmBooted e)
    {
        Status = ProjectStatuses.After(e, Status);
        VmContainerId = e.VmContainerId;
        ReadySince = e.At;
    }

    public void Apply(ProjectProvisioningFailed e)
    {
        Status = ProjectStatuses.After(e, Status);
        Subnet = null;
        NetworkName = VmContainerId = null;
    }

    public void Apply(ProvisioningRetried e) => Status = ProjectStatuses.After(e, Status);
    public void Apply(ProjectDeletionRequested e) => Status = ProjectStatuses.After(e, Status);
    public void Apply(ProjectDeleted e) => Status = ProjectStatuses.After(e, Status);

    public void Apply(VmStopRequested e)
    {
        Status = ProjectStatuses.After(e, Status);
        StopReason = e.Reason;
    }

    public void Apply(VmRestartRequested e)
    {
        // Mid-stop, the stop's own reason stands; of a ready VM, the restart is the reason.
        if (Status != ProjectStatus.Stopping) StopReason = LifecycleReasons.Restart;
        Status = ProjectStatuses.After(e, Status);
        StartAfterStop = true;
        StartReason = e.Reason;
    }

    public void Apply(VmStopped e)
    {
        Status = ProjectStatuses.After(e, Status);
        StopReason = e.Reason;
    }

    public void Apply(VmStopFailed e)
    {
        Status = ProjectStatuses.After(e, Status);
        StopReason = null;
        StartAfterStop = false;
    }

    public void Apply(VmStartRequested e)
    {
        Status = ProjectStatuses.After(e, Status);
        StartAfterStop = false;
        StartReason = e.Reason;
    }

    public void Apply(VmStarted e)
    {
        Status = ProjectStatuses.After(e, Status);
        VmContainerId = e.VmContainerId;
        StopReason = StartReason = null;
        ReadySince = e.At;
    }

    public void Apply(VmStartFailed e) => Status = ProjectStatuses.After(e, Status);
}

/// <summary>The one mapping from a project's events to its status: the aggregate, the read model and live updates use it.</summary>
public static class ProjectStatuses
{
    /// <summary>Every event type that <see cref="Of"/> maps to a status: what the live hub reads from the event log.</summary>
    public static readonly IReadOnlyList<Type> EventTypes =
    [
        typeof(ProjectRequested), typeof(ProvisioningRetried), typeof(NetworkAllocated), typeof(SharedFolderPrepared),
        typeof(VmBooted), typeof(VmStarted), typeof(VmStopFailed), typeof(ProjectProvisioningFailed),
        typeof(ProjectDeletionRequested), typeof(ProjectDeleted), typeof(VmStopRequested), typeof(VmRestartRequested),
        typeof(VmStopped), typeof(VmStartFailed), typeof(VmStartRequested),
    ];

    /// <summary>The status after <paramref name="data"/>; null when it is not a project event.</summary>
    public static ProjectStatus? Of(object data) => data switch
    {
        ProjectRequested or ProvisioningRetried => ProjectStatus.Requested,
        NetworkAllocated or SharedFolderPrepared => ProjectStatus.Provisioning,
        VmBooted or VmStarted or VmStopFailed => ProjectStatus.Ready,
        ProjectProvisioningFailed => ProjectStatus.Failed,
        ProjectDeletionRequested => ProjectStatus.Deleting,
        ProjectDeleted => ProjectStatus.Deleted,
        VmStopRequested or VmRestartRequested => ProjectStatus.Stopping,
        VmStopped or VmStartFailed => ProjectStatus.Stopped,
        VmStartRequested => ProjectStatus.Starting,
        _ => null,
    };

    /// <summary>
    /// The status after <paramref name="data"/> given the one before: a step that raced a deletion (its events committed
    /// after <see cref="ProjectDeletionRequested"/>) leaves the project deleting.
    /// </summary>
    public static ProjectStatus After(object data, ProjectStatus current) =>
        current == ProjectStatus.Deleting && data is not ProjectDeleted ? current : Of(data) ?? current;

    /// <summary>The status after a decision's events.</summary>
    public static ProjectStatus After(IEnumerable<object> events, ProjectStatus current) =>
        events.Aggregate(current, (s, e) => After(e, s));

    /// <summary>The event's own time: quick append fills no event metadata before the transaction commits.</summary>
    public static DateTimeOffset? TimeOf(object data) => data switch
    {
        ProjectRequested e => e.At, NetworkAllocated e => e.At, SharedFolderPrepared e => e.At, VmBooted e => e.At,
        ProjectProvisioningFailed e => e.At, ProvisioningRetried e => e.At, ProjectDeletionRequested e => e.At, ProjectDeleted e => e.At,
        VmStopRequested e => e.At, VmRestartRequested e => e.At, VmStopped e => e.At, VmStopFailed e => e.At,
        VmStartRequested e => e.At, VmStarted e => e.At, VmStartFailed e => e.At,
        _ => null,
    };
}

/// <summary>What a lifecycle command decided: the events to record, or the status that refuses it (a 409).</summary>
public sealed record LifecycleDecision(IReadOnlyList<object> Events, ProjectStatus? RefusedIn = null)
{
    public static readonly LifecycleDecision Nothing = new([]);
    public bool Refused => RefusedIn is not null;
    public static LifecycleDecision Accept(params object[] events) => new(events);
    public static LifecycleDecision Refuse(ProjectStatus status) => new([], status);
}

/// <summary>
/// The project's transitions, pure: (state, command, now) to events. Provisioning steps that arrive in the wrong status
/// (a redelivery, a race with a deletion) decide nothing; lifecycle commands in the wrong status are refused, naming it.
/// </summary>
public static class ProjectDecider
{
    public static ProjectRequested Request(Guid id, string ownerId, string name, string os, DateTimeOffset now) =>
        new(id, ownerId, name, os, now);

    public static object[] AllocateNetwork(Project project, Subnet subnet, string networkName, string networkId, DateTimeOffset now) =>
        project.Status == ProjectStatus.Requested ? [new NetworkAllocated(project.Id, subnet, networkName, networkId, now)] : [];

    public static object[] PrepareSharedFolder(Project project, string hostPath, string serverId, DateTimeOffset now) =>
        project is { Status: ProjectStatus.Provisioning, Subnet: { } subnet }
            ? [new SharedFolderPrepared(project.Id, hostPath, serverId, subnet.SharedFolder, now)]
            : [];

    /// <summary>The VM is healthy: the end of provisioning, or of a start.</summary>
    public static object[] VmHealthy(Project project, string containerId, int? viewerPort, DateTimeOffset now) => project switch
    {
        { Status: ProjectStatus.Provisioning, Subnet: { } subnet } => [new VmBooted(project.Id, containerId, subnet.Vm, viewerPort, now)],
        { Status: ProjectStatus.Starting } => [new VmStarted(project.Id, containerId, now)],
        _ => [],
    };

    /// <summary>A provisioning step failed for good (a start that fails is <see cref="StartFailed"/>: it keeps the VM's storage).</summary>
    public static object[] FailProvisioning(Project project, string step, string reason, DateTimeOffset now) =>
        project.Status is ProjectStatus.Requested or ProjectStatus.Provisioning
            ? [new ProjectProvisioningFailed(project.Id, step, reason, now)]
            : [];

    /// <summary>
    /// Only a ready VM stops. Stopping a project still being provisioned is refused rather than queued: the owner can delete
    /// it, or stop it once it is ready.
    /// </summary>
    public static LifecycleDecision Stop(Project project, string reason, DateTimeOffset now) =>
        project.Status == ProjectStatus.Ready
            ? LifecycleDecision.Accept(new VmStopRequested(project.Id, reason, now))
            : LifecycleDecision.Refuse(project.Status);

    /// <summary>Only a stopped VM starts.</summary>
    public static LifecycleDecision Start(Project project, string reason, DateTimeOffset now) =>
        project.Status == ProjectStatus.Stopped
            ? LifecycleDecision.Accept(new VmStartRequested(project.Id, reason, now))
            : LifecycleDecision.Refuse(project.Status);

    /// <summary>
    /// A ready VM stops and starts again; a stopped one just starts; a failed project is provisioned again from the start
    /// (its failure removed everything it had). Anything in flight is refused.
    /// </summary>
    public static LifecycleDecision Restart(Project project, string reason, DateTimeOffset now) => project.Status switch
    {
        ProjectStatus.Ready => LifecycleDecision.Accept(new VmRestartRequested(project.Id, reason, now)),
        ProjectStatus.Stopped => LifecycleDecision.Accept(new VmStartRequested(project.Id, reason, now)),
        ProjectStatus.Failed => LifecycleDecision.Accept(new ProvisioningRetried(project.Id, reason, now)),
        _ => LifecycleDecision.Refuse(project.Status),
    };

    /// <summary>
    /// Something needs the VM (a chat, a viewer): a stopped VM starts, a stopping one starts again once stopped; one that
    /// runs or is on its way decides nothing. A failed or deleting project cannot be woken.
    /// </summary>
    public static LifecycleDecision Wake(Project project, DateTimeOffset now) => project.Status switch
    {
        ProjectStatus.Stopped => LifecycleDecision.Accept(new VmStartRequested(project.Id, LifecycleReasons.OnDemand, now)),
        ProjectStatus.Stopping when !project.StartAfterStop =>
            LifecycleDecision.Accept(new VmRestartRequested(project.Id, LifecycleReasons.OnDemand, now)),
        ProjectStatus.Failed or ProjectStatus.Deleting or ProjectStatus.Deleted => LifecycleDecision.Refuse(project.Status),
        _ => LifecycleDecision.Nothing,
    };

    /// <summary>A project can be deleted in any status; asking again while it goes changes nothing.</summary>
    public static object[] Delete(Project project, DateTimeOffset now) =>
        project.Status is ProjectStatus.Deleting or ProjectStatus.Deleted ? [] : [new ProjectDeletionRequested(project.Id, now)];

    /// <summary>The container stopped: recorded with the stop's reason, and a pending start asked for at once.</summary>
    public static object[] VmHasStopped(Project project, DateTimeOffset now)
    {
        if (project.Status != ProjectStatus.Stopping) return [];
        var stopped = new VmStopped(project.Id, project.StopReason ?? LifecycleReasons.Owner, now);
        return project.StartAfterStop
            ? [stopped, new VmStartRequested(project.Id, project.StartReason ?? LifecycleReasons.Restart, now)]
            : [stopped];
    }

    public static object[] StopFailed(Project project, string reason, DateTimeOffset now) =>
        project.Status == ProjectStatus.Stopping ? [new VmStopFailed(project.Id, reason, now)] : [];

    public static object[] StartFailed(Project project, string reason, DateTimeOffset now) =>
        project.Status == ProjectStatus.Starting ? [new VmStartFailed(project.Id, reason, now)] : [];

    /// <summary>
    /// A ready VM unused for <paramref name="idleFor"/> (counted from the later of its last activity and its becoming ready)
    /// stops, saying why; a zero <paramref name="idleFor"/> turns idle stop off.
    /// </summary>
    public static object[] StopIfIdle(Project project, DateTimeOffset? lastActive, TimeSpan idleFor, DateTimeOffset now)
    {
        if (project.Status != ProjectStatus.Ready || idleFor <= TimeSpan.Zero) return [];
        var since = new[] { lastActive, project.ReadySince }.Max() ?? now;
        return now - since >= idleFor ? [new VmStopRequested(project.Id, LifecycleReasons.Idle, now)] : [];
    }
}
