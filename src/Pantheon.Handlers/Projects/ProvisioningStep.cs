namespace Pantheon.Handlers.Projects;

/// <summary>Where the saga is. Stored by name: new steps go anywhere, but a name never changes.</summary>
public enum ProvisioningStep
{
    AllocatingNetwork,
    PreparingSharedFolder,
    BootingVm,
    /// <summary>Polling the VM's health after a boot or a start.</summary>
    WaitingForVm,
    Ready,
    Failed,
    Deleted,
    StoppingVm,
    Stopped,
    StartingVm,
    /// <summary>Connecting the backend's own container to the project network at <c>.3</c> (<c>Projects:BackendContainer</c>).</summary>
    ConnectingBackend,
}
