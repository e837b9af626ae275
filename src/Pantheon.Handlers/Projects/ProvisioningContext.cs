using Microsoft.Extensions.Logging;

namespace Pantheon.Handlers.Projects;

/// <summary>What every provisioning step works with: the machine host, the shared folders and the settings.</summary>
public sealed class ProvisioningContext(IVmHost host, SharedFolders folders, ProjectSettings settings, VmSettings vm, TimeProvider time,
    VmWaits waits, ILogger<ProjectProvisioning> logger)
{
    public IVmHost Host { get; } = host;
    public SharedFolders Folders { get; } = folders;
    public ProjectSettings Settings { get; } = settings;
    public VmSettings Vm { get; } = vm;
    public TimeProvider Time { get; } = time;
    public VmWaits Waits { get; } = waits;
    public ILogger Logger { get; } = logger;

    /// <summary>Removes every container, network and volume of the project, then its folder. Idempotent.</summary>
    public async Task RemoveEverythingAsync(Guid projectId, CancellationToken ct)
    {
        // The backend's connection at .3 (in a container) goes with the network: its removal disconnects what is still on it.
        await Host.RemoveProjectAsync(projectId, ct);
        Folders.Remove(projectId);
    }
}

/// <summary>
/// The projects whose VM this process booted or started and waits for: the only ones whose engine events it passes to the
/// saga (<see cref="VmEventWatcher"/>). A project's saga steps run one at a time only within one process (a lane of its
/// step queues), so an event passed on by every process would run beside the step of another; passed on by the process
/// that started the wait, it queues behind that wait's own poll. After a restart, or when a poll runs on another node, the
/// poll alone ends the wait.
/// </summary>
public sealed class VmWaits
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, VmWaitOrigin> _projects = new();

    public void Begin(Guid projectId, VmWaitOrigin origin) => _projects[projectId] = origin;
    public void End(Guid projectId) => _projects.TryRemove(projectId, out _);

    /// <summary>Who the wait acts for, if this process waits for the project's VM.</summary>
    public bool TryGet(Guid projectId, out VmWaitOrigin origin) => _projects.TryGetValue(projectId, out origin!);
}

/// <summary>The user and correlation id of the step that began a wait: the audit shows the VM's events as theirs.</summary>
public sealed record VmWaitOrigin(string? UserName, string? CorrelationId);
