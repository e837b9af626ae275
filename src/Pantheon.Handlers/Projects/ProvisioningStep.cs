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
}
