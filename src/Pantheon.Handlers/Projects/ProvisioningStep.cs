namespace Pantheon.Handlers.Projects;

public enum ProvisioningStep
{
    AllocatingNetwork,
    PreparingSharedFolder,
    BootingVm,
    WaitingForVm,
    Ready,
    Failed,
    Deleted,
}
