namespace Pantheon.Domain.Projects;

/// <summary>A user asked for a project; provisioning starts.</summary>
public sealed record ProjectRequested(Guid ProjectId, string OwnerId, string Name, string Os, DateTimeOffset At);

/// <summary>The project's /24 is leased and its internal bridge network exists. Stored as its CIDR string.</summary>
public sealed record NetworkAllocated(Guid ProjectId, Subnet Subnet, string NetworkName, string NetworkId, DateTimeOffset At);

/// <summary>The shared folder holds the MCP <c>.env</c> and its read-only HTTP server runs at <c>.20</c>.</summary>
public sealed record SharedFolderPrepared(Guid ProjectId, string HostPath, string ServerContainerId, string ServerAddress, DateTimeOffset At);

/// <summary>The VM container runs at <c>.2</c> and reports healthy.</summary>
public sealed record VmBooted(Guid ProjectId, string VmContainerId, string VmAddress, int? ViewerPort, DateTimeOffset At);

/// <summary>A provisioning step failed for good; what it had created is removed.</summary>
public sealed record ProjectProvisioningFailed(Guid ProjectId, string Step, string Reason, DateTimeOffset At);

/// <summary>A failed project is provisioned again from the start (a restart of a failed project).</summary>
public sealed record ProvisioningRetried(Guid ProjectId, string Reason, DateTimeOffset At);

/// <summary>The owner asked for the project to go; teardown starts.</summary>
public sealed record ProjectDeletionRequested(Guid ProjectId, DateTimeOffset At);

/// <summary>Containers, network and folder are gone and the subnet is free again.</summary>
public sealed record ProjectDeleted(Guid ProjectId, DateTimeOffset At);

/// <summary>The reconciler removed a labelled container, network or volume that no live project owns.</summary>
public sealed record OrphanRemoved(string Kind, string ResourceId, string Name, Guid ProjectId, DateTimeOffset At);

/// <summary>
/// Why a VM stops or starts: <see cref="Owner"/> and <see cref="Operator"/> through the API, <see cref="Idle"/> after
/// <c>Projects:IdleStopMinutes</c> without activity, <see cref="OnDemand"/> when a chat or viewer needs a stopped VM.
/// </summary>
public static class LifecycleReasons
{
    public const string Owner = "owner";
    public const string Operator = "operator";
    public const string Idle = "idle";
    public const string OnDemand = "on-demand";
    public const string Restart = "restart";
}

/// <summary>Someone (or idleness, see <see cref="LifecycleReasons"/>) asked for a ready VM to stop.</summary>
public sealed record VmStopRequested(Guid ProjectId, string Reason, DateTimeOffset At);

/// <summary>A stop followed by a start: of a ready VM, or of one already stopping that is wanted again.</summary>
public sealed record VmRestartRequested(Guid ProjectId, string Reason, DateTimeOffset At);

/// <summary>The VM container stopped; its <c>/storage</c> volume, network and shared folder stay.</summary>
public sealed record VmStopped(Guid ProjectId, string Reason, DateTimeOffset At);

/// <summary>Stopping failed for good; the VM runs on.</summary>
public sealed record VmStopFailed(Guid ProjectId, string Reason, DateTimeOffset At);

/// <summary>A stopped VM is to start again.</summary>
public sealed record VmStartRequested(Guid ProjectId, string Reason, DateTimeOffset At);

/// <summary>The VM container runs again and reports healthy.</summary>
public sealed record VmStarted(Guid ProjectId, string VmContainerId, DateTimeOffset At);

/// <summary>Starting failed (the container exited, or never became healthy in time); the VM is stopped, its storage kept.</summary>
public sealed record VmStartFailed(Guid ProjectId, string Reason, DateTimeOffset At);
