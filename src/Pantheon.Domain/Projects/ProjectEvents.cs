namespace Pantheon.Domain.Projects;

/// <summary>A user asked for a project; provisioning starts.</summary>
public sealed record ProjectRequested(Guid ProjectId, string OwnerId, string Name, string Os, DateTimeOffset At);

/// <summary>The project's /24 is leased and its internal bridge network exists.</summary>
public sealed record NetworkAllocated(Guid ProjectId, string Subnet, string NetworkName, string NetworkId, DateTimeOffset At);

/// <summary>The shared folder holds the MCP <c>.env</c> and its read-only HTTP server runs at <c>.20</c>.</summary>
public sealed record SharedFolderPrepared(Guid ProjectId, string HostPath, string ServerContainerId, string ServerAddress, DateTimeOffset At);

/// <summary>The VM container runs at <c>.2</c> and reports healthy.</summary>
public sealed record VmBooted(Guid ProjectId, string VmContainerId, string VmAddress, int? ViewerPort, DateTimeOffset At);

/// <summary>A provisioning step failed for good; what it had created is removed.</summary>
public sealed record ProjectProvisioningFailed(Guid ProjectId, string Step, string Reason, DateTimeOffset At);

/// <summary>The owner asked for the project to go; teardown starts.</summary>
public sealed record ProjectDeletionRequested(Guid ProjectId, DateTimeOffset At);

/// <summary>Containers, network and folder are gone and the subnet is free again.</summary>
public sealed record ProjectDeleted(Guid ProjectId, DateTimeOffset At);

/// <summary>The reconciler removed a labelled container, network or volume that no live project owns.</summary>
public sealed record OrphanRemoved(string Kind, string ResourceId, string Name, Guid ProjectId, DateTimeOffset At);
