namespace Pantheon.Handlers.Projects;

/// <summary>The <c>Projects</c> section: where subnets and shared folders come from, and how provisioning retries.</summary>
public sealed class ProjectSettings
{
    public const string Section = "Projects";

    public string SubnetPool { get; set; } = "172.30.0.0/16";

    /// <summary>Where the backend writes shared folders (<c>{DataRoot}/windows-vm-files/{project-id}/</c>).</summary>
    public string DataRoot { get; set; } = "/var/lib/pantheon";

    /// <summary>The same folder as the Docker host sees it, when the backend itself runs in a container.</summary>
    public string? HostDataRoot { get; set; }

    /// <summary>
    /// The backend's own container (name or id) when it runs in one: provisioning connects it to each project network at
    /// <c>.3</c>, so that it reaches the VM there; deletion disconnects it. Empty on the host, which reaches the networks
    /// through their bridges.
    /// </summary>
    public string? BackendContainer { get; set; }

    /// <summary>The image of the read-only shared-folder server at <c>.20</c>.</summary>
    public string FileServerImage { get; set; } = "busybox:stable";

    public List<string> FileServerCommand { get; set; } = ["httpd", "-f", "-p", "8888", "-h", "/srv"];

    /// <summary>
    /// The file server's user (<c>uid:gid</c>, default nobody). It runs with every capability dropped and a read-only
    /// root, so it reads the shared folder as any other user would: the folder and <c>.env</c> are world-readable.
    /// </summary>
    public string FileServerUser { get; set; } = "65534:65534";

    public long FileServerMemoryBytes { get; set; } = 64L * 1024 * 1024;
    public double FileServerCpus { get; set; } = 0.5;
    public long FileServerPidsLimit { get; set; } = 64;

    /// <summary>Attempts of one step whose failure may pass (the engine not answering) before the project fails.</summary>
    public int MaxStepAttempts { get; set; } = 5;

    public int RetryBaseDelayMilliseconds { get; set; } = 500;

    /// <summary>
    /// The local queues that a process runs the saga's steps on. A project's steps always land on one queue and one of its
    /// nine lanes, strictly one after another; lanes of different projects run side by side (up to nine per queue).
    /// </summary>
    public int StepQueues { get; set; } = 32;

    public int ReconcileIntervalSeconds { get; set; } = 300;

    /// <summary>A ready project unused this long is stopped (<c>VmStopped</c> with reason <c>idle</c>); 0 turns idle stop off.</summary>
    public double IdleStopMinutes { get; set; } = 60;

    /// <summary>Overrides <see cref="IdleStopMinutes"/> when set (tests use seconds).</summary>
    public int? IdleStopSeconds { get; set; }

    /// <summary>How often activity is flushed and idle projects are looked for.</summary>
    public int IdleCheckSeconds { get; set; } = 60;

    public TimeSpan IdleStopAfter => IdleStopSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromMinutes(IdleStopMinutes);

    public string FolderFor(Guid projectId) => Path.Combine(Path.GetFullPath(DataRoot), "windows-vm-files", projectId.ToString());

    public string HostFolderFor(Guid projectId) =>
        HostDataRoot is { Length: > 0 } ? Path.Combine(HostDataRoot, "windows-vm-files", projectId.ToString()) : FolderFor(projectId);
}

/// <summary>The <c>Vm</c> section: the VM container. Defaults follow <c>dockurr/windows</c>.</summary>
public sealed class VmSettings
{
    public const string Section = "Vm";

    public string Image { get; set; } = "dockurr/windows:latest";
    public List<string>? Command { get; set; }
    public Dictionary<string, string> Environment { get; set; } = new()
    {
        ["VERSION"] = "11", ["RAM_SIZE"] = "8G", ["CPU_CORES"] = "4", ["DISK_SIZE"] = "64G",
    };
    /// <summary>Host devices, comma-separated (a string, so that configuration can empty it).</summary>
    public string Devices { get; set; } = "/dev/kvm,/dev/net/tun";

    /// <summary>Added capabilities, comma-separated.</summary>
    public string CapAdd { get; set; } = "NET_ADMIN";
    /// <summary>The container's memory limit: <c>RAM_SIZE</c> (8G) and room for QEMU itself.</summary>
    public long? MemoryBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>CPUs at most (<c>CPU_CORES</c>), as a CFS quota.</summary>
    public double? Cpus { get; set; } = 4;

    public long? PidsLimit { get; set; } = 1024;
    public int StopGracePeriodSeconds { get; set; } = 120;

    /// <summary>The web viewer's port inside the container, published on 127.0.0.1 only; 0 publishes nothing.</summary>
    public int ViewerPort { get; set; } = 8006;

    public string SharedFolderMount { get; set; } = "/shared";
    public string StorageMount { get; set; } = "/storage";
    public int BootTimeoutSeconds { get; set; } = 600;

    /// <summary>
    /// How often the saga looks at a booting or starting VM when the engine's events say nothing: the fallback for an event
    /// missed while the event stream was reconnecting (or with <see cref="EngineEvents"/> off).
    /// </summary>
    public int HealthPollMilliseconds { get; set; } = 2000;

    /// <summary>
    /// The engine's events for this instance's VM containers (healthy, died) make the saga look at a VM it waits for at
    /// once (<see cref="VmEventWatcher"/>), instead of at its next poll.
    /// </summary>
    public bool EngineEvents { get; set; } = true;

    public static IReadOnlyList<string> Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
