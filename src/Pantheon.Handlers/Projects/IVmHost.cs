namespace Pantheon.Handlers.Projects;

/// <summary>The labels every network, container and volume Pantheon creates carries, so orphans can be found.</summary>
public static class PantheonLabels
{
    public const string ProjectId = "pantheon.project-id";
    public const string Role = "pantheon.role";

    /// <summary>Which deployment made the resource (<c>Docker:Instance</c>): the reconciler touches only its own.</summary>
    public const string Instance = "pantheon.instance";
}

/// <summary>A project's isolated network: bridge, internal (no route out), one /24, gateway at .254.</summary>
public sealed record ProjectNetworkSpec(Guid ProjectId, string Name, string Subnet, string Gateway);

/// <summary>A port of a container published on the host.</summary>
public sealed record PortPublish(int ContainerPort, string HostIp = "127.0.0.1", int HostPort = 0);

/// <summary>Everything needed to create one container of a project, with a fixed address on its network.</summary>
public sealed record ContainerSpec(
    Guid ProjectId,
    string Role,
    string Name,
    string Image,
    string NetworkName,
    string IpAddress)
{
    public IReadOnlyList<string>? Command { get; init; }
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    /// <summary>Bind mounts, Docker's <c>host-path:container-path[:ro]</c> form.</summary>
    public IReadOnlyList<string> Binds { get; init; } = [];
    /// <summary>Named volumes, <c>volume-name:container-path</c>; created with the project's labels.</summary>
    public IReadOnlyList<string> Volumes { get; init; } = [];
    /// <summary>Host devices, such as <c>/dev/kvm</c>.</summary>
    public IReadOnlyList<string> Devices { get; init; } = [];
    public IReadOnlyList<string> CapAdd { get; init; } = [];
    public long? MemoryBytes { get; init; }
    /// <summary>CPUs the container may use at most (a CFS quota; more than the engine has caps nothing beyond it).</summary>
    public double? Cpus { get; init; }
    /// <summary>The most processes (and threads) the container may run.</summary>
    public long? PidsLimit { get; init; }
    /// <summary>The user (<c>uid:gid</c>) the container runs as; null keeps the image's.</summary>
    public string? User { get; init; }
    /// <summary>Capabilities removed, such as <c>ALL</c>. Every container also runs with <c>no-new-privileges</c>.</summary>
    public IReadOnlyList<string> CapDrop { get; init; } = [];
    public bool ReadOnlyRootFilesystem { get; init; }
    public TimeSpan? StopGracePeriod { get; init; }
    public IReadOnlyList<PortPublish> Ports { get; init; } = [];

    /// <summary>
    /// The container most likely exists already (a stopped VM started again): it is looked up before anything is created.
    /// Otherwise the create comes first and the look-up only when the name is taken. Either way the result is the same.
    /// </summary>
    public bool LikelyExists { get; init; }
}

public enum ContainerHealth
{
    /// <summary>Running, with a health check that has not passed yet.</summary>
    Starting,
    Healthy,
    Unhealthy,
    /// <summary>Running, and the image declares no health check.</summary>
    Running,
    /// <summary>Created or stopped: not running.</summary>
    NotRunning,
    Missing,
}

public sealed record ContainerState(string Id, ContainerHealth Health, string? Detail, IReadOnlyDictionary<int, int> PublishedPorts);

/// <summary>A network, container or volume carrying <see cref="PantheonLabels.ProjectId"/>.</summary>
public sealed record LabelledResource(string Kind, string Id, string Name, Guid ProjectId, string? Role);

/// <summary>A failure of the machine host, in words fit for a project's failure reason.</summary>
public class VmHostException(string message, bool transient, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Whether trying again may help (the engine did not answer, a conflict in flight), as opposed to a bad image or spec.</summary>
    public bool Transient { get; } = transient;
}

/// <summary>
/// The engine refused a network because another network (not in our leases: another tool, another deployment on the
/// same engine) took an overlapping subnet since we looked: another subnet will do.
/// </summary>
public sealed class SubnetTakenException(string subnet, Exception inner)
    : VmHostException($"The subnet {subnet} overlaps a network the engine already has.", transient: true, inner)
{
    public string Subnet { get; } = subnet;
}

/// <summary>Our network exists (made by another run of the same step) on another subnet than the one asked for.</summary>
public sealed class NetworkOnOtherSubnetException(string name, string subnet, string networkId, string wanted)
    : VmHostException($"Network {name} exists on {subnet}, not on {wanted}: another run of this step made it.", transient: true)
{
    public string Subnet { get; } = subnet;
    public string NetworkId { get; } = networkId;
}

/// <summary>
/// What provisioning needs from the engine that runs the project machines. Every call is idempotent: creating
/// what already exists with our name and labels returns the existing one; removing what is gone is a no-op.
/// </summary>
public interface IVmHost
{
    /// <summary>The subnets (CIDR) of every network the engine has, ours or not.</summary>
    Task<IReadOnlyList<string>> UsedSubnetsAsync(CancellationToken ct);

    /// <summary>Creates the network, or returns the id of the one with that name and our labels.</summary>
    Task<string> EnsureNetworkAsync(ProjectNetworkSpec spec, CancellationToken ct);

    /// <summary>Creates the container if missing and starts it if not running; returns its id.</summary>
    Task<string> EnsureContainerStartedAsync(ContainerSpec spec, CancellationToken ct);

    Task<ContainerState> InspectAsync(string nameOrId, CancellationToken ct);

    /// <summary>
    /// Stops the container, giving it <paramref name="grace"/> to shut down before it is killed; its volumes stay. A container
    /// already stopped, or gone, is a no-op.
    /// </summary>
    Task StopContainerAsync(string nameOrId, TimeSpan grace, CancellationToken ct);

    /// <summary>
    /// Connects a container that is not the project's own (the backend's or the tools API's, when they run in containers) to
    /// a network at a fixed address. Already connected there: a no-op; connected at another address: reconnected.
    /// </summary>
    Task ConnectContainerAsync(string container, string networkName, string ipAddress, CancellationToken ct);

    /// <summary>Disconnects a container from a network; one not connected, or a network gone, is a no-op.</summary>
    Task DisconnectContainerAsync(string container, string networkName, CancellationToken ct);

    /// <summary>
    /// Removes every container, network and volume labelled with the project: containers first, and a network only after
    /// whatever else is still connected to it (a backend or tools API container) is disconnected.
    /// </summary>
    Task RemoveProjectAsync(Guid projectId, CancellationToken ct);

    /// <summary>Every container, network and volume that carries <see cref="PantheonLabels.ProjectId"/>.</summary>
    Task<IReadOnlyList<LabelledResource>> ListLabelledAsync(CancellationToken ct);

    Task RemoveAsync(LabelledResource resource, CancellationToken ct);

    /// <summary>Runs a command inside a running container and returns its standard output (diagnostics and tests).</summary>
    Task<(long ExitCode, string Output)> ExecAsync(string container, IReadOnlyList<string> command, CancellationToken ct);
}
