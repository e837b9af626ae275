using Pantheon.Domain.Projects;
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

/// <summary>Connect the backend's own container to the project network at <c>.3</c>, when it runs in a container.</summary>
public sealed record ConnectBackend([property: SagaIdentity] Guid ProjectId) : IProjectStep;

public sealed record PrepareSharedFolder([property: SagaIdentity] Guid ProjectId) : IProjectStep;

public sealed record BootVm([property: SagaIdentity] Guid ProjectId) : IProjectStep;

/// <summary>A scheduled look at the VM's health while it boots or starts.</summary>
public sealed record CheckVmHealth([property: SagaIdentity] Guid ProjectId) : IProjectStep;

/// <summary>
/// The engine reported that the VM container became healthy or died (<see cref="VmEventWatcher"/>, in the process that waits
/// for it): the saga looks now, if it still waits, and schedules nothing from it.
/// </summary>
public sealed record VmHealthChanged([property: SagaIdentity] Guid ProjectId) : IProjectStep;

public sealed record DeleteProject([property: SagaIdentity] Guid ProjectId) : IProjectStep;

/// <summary>Stop the VM container of a project whose stop was recorded (<see cref="VmStopRequested"/>, <see
/// cref="VmRestartRequested"/>).</summary>
public sealed record StopVm([property: SagaIdentity] Guid ProjectId) : IProjectStep;

/// <summary>Start the stopped VM container of a project whose start was recorded (<see cref="VmStartRequested"/>).</summary>
public sealed record StartVm([property: SagaIdentity] Guid ProjectId) : IProjectStep;

/// <summary>Provision a failed project again from its first step (<see cref="ProvisioningRetried"/>).</summary>
public sealed record RetryProvisioning([property: SagaIdentity] Guid ProjectId) : IProjectStep;

/// <summary>What the saga is asked to do once a decision's events are recorded: the one place that maps them.</summary>
public static class ProjectSagaMessages
{
    public static OutgoingMessages For(Guid projectId, IEnumerable<object> events)
    {
        var messages = new OutgoingMessages();
        foreach (var e in events)
        {
            object? message = e switch
            {
                VmStopRequested or VmRestartRequested => new StopVm(projectId),
                VmStartRequested => new StartVm(projectId),
                ProvisioningRetried => new RetryProvisioning(projectId),
                ProjectDeletionRequested => new DeleteProject(projectId),
                _ => null,
            };
            if (message is not null) messages.Add(message);
        }
        return messages;
    }
}
