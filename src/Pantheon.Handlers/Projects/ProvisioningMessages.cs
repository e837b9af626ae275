using Wolverine;
using Wolverine.Persistence.Sagas;

namespace Pantheon.Handlers.Projects;

/// <summary>Messages of the provisioning saga: one per step, each keyed by the project.</summary>
public interface IProjectStep
{
    Guid ProjectId { get; }
}

public sealed record StartProvisioning([property: SagaIdentity] Guid ProjectId, string OwnerId) : IProjectStep;

public sealed record AllocateNetwork([property: SagaIdentity] Guid ProjectId) : IProjectStep;

public sealed record PrepareSharedFolder([property: SagaIdentity] Guid ProjectId) : IProjectStep;

public sealed record BootVm([property: SagaIdentity] Guid ProjectId) : IProjectStep;

/// <summary>A scheduled look at the VM's health while it boots.</summary>
public sealed record CheckVmHealth([property: SagaIdentity] Guid ProjectId) : IProjectStep;

public sealed record DeleteProject([property: SagaIdentity] Guid ProjectId) : IProjectStep;
