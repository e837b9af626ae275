using Microsoft.Extensions.Logging;

namespace Pantheon.Handlers.Projects;

/// <summary>What every provisioning step works with: the machine host, the shared folders and the settings.</summary>
public sealed class ProvisioningContext(IVmHost host, SharedFolders folders, ProjectSettings settings, VmSettings vm, TimeProvider time,
    ILogger<ProjectProvisioning> logger)
{
    public IVmHost Host { get; } = host;
    public SharedFolders Folders { get; } = folders;
    public ProjectSettings Settings { get; } = settings;
    public VmSettings Vm { get; } = vm;
    public TimeProvider Time { get; } = time;
    public ILogger Logger { get; } = logger;

    /// <summary>Removes every container, network and volume of the project, then its folder. Idempotent.</summary>
    public async Task RemoveEverythingAsync(Guid projectId, CancellationToken ct)
    {
        // The backend's connection at .3 (in a container) goes with the network: its removal disconnects what is still on it.
        await Host.RemoveProjectAsync(projectId, ct);
        Folders.Remove(projectId);
    }
}
