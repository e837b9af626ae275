using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Pantheon.Handlers.Infrastructure;
using DockerContainerState = Docker.DotNet.Models.ContainerState;

namespace Pantheon.Handlers.Projects;

/// <summary>
/// <see cref="IVmHost"/> on a Docker engine. Never pulls images: the engine has no registry to reach, so a missing
/// image is a spec error. Every engine failure surfaces as a <see cref="VmHostException"/>.
/// </summary>
public sealed class DockerVmHost(IDockerClient docker, DockerSettings settings, ILogger<DockerVmHost> logger) : IVmHost
{
    public const string ContainerKind = "container";
    public const string NetworkKind = "network";
    public const string VolumeKind = "volume";

    /// <summary>The CFS period a CPU limit is a quota of (Docker's default, 100 ms).</summary>
    public const long CpuPeriodMicroseconds = 100_000;

    public async Task<IReadOnlyList<string>> UsedSubnetsAsync(CancellationToken ct)
    {
        var networks = await Call("Listing networks", t => docker.Networks.ListNetworksAsync(new NetworksListParameters(), t), ct);
        return networks
            .SelectMany(n => n.IPAM?.Config ?? [])
            .Select(c => c.Subnet)
            .Where(s => !string.IsNullOrEmpty(s))
            .ToList();
    }

    public async Task<string> EnsureNetworkAsync(ProjectNetworkSpec spec, CancellationToken ct)
    {
        // The create comes first, with no look-up before it: the engine refuses an existing name (409, CheckDuplicate) before
        // it looks at the subnet, and that refusal leads to the same adoption (ours, on our subnet) as a look-up would.
        var parameters = new NetworksCreateParameters
        {
            Name = spec.Name,
            Driver = "bridge",
            Internal = true,
            CheckDuplicate = true,
            IPAM = new IPAM { Config = [new IPAMConfig { Subnet = spec.Subnet, Gateway = spec.Gateway }] },
            Labels = Labels(spec.ProjectId, NetworkKind),
        };
        DockerApiException? overlap = null;
        var id = await Call($"Creating network {spec.Name}", async t =>
        {
            try { return (await docker.Networks.CreateNetworkAsync(parameters, t)).ID; }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict) { return null; }
            catch (DockerApiException e) when (e.ResponseBody.Contains("overlaps", StringComparison.OrdinalIgnoreCase))
            {
                overlap = e;
                return null;
            }
        }, ct);
        if (id is not null)
        {
            logger.LogInformation("Created network {Network} ({NetworkId}) with subnet {Subnet}", spec.Name, id, spec.Subnet);
            return id;
        }

        // The name or the subnet is held. The engine reserves a subnet before the network shows under its name, and a create
        // of ours that timed out was abandoned by us, not by the engine: it may still be on its way. So the subnet's holder
        // decides (the engine allocates subnets atomically, names not): ours is adopted once it shows, a foreign one makes
        // the subnet taken, and one that does not show in time is a create in flight, retried later on the same lease.
        var deadline = DateTimeOffset.UtcNow.AddSeconds(settings.TimeoutSeconds);
        while (true)
        {
            var networks = await Call("Listing networks", t => docker.Networks.ListNetworksAsync(new NetworksListParameters(), t), ct);
            if (networks.FirstOrDefault(n => n.Name == spec.Name) is { } winner) return AdoptNetwork(winner, spec);
            if (overlap is not null && networks.FirstOrDefault(n => HoldsSubnet(n, spec.Subnet)) is { } holder)
            {
                logger.LogInformation("Subnet {Subnet} for {Network} is held by network {Holder}", spec.Subnet, spec.Name, holder.Name);
                throw new SubnetTakenException(spec.Subnet, overlap);
            }
            if (DateTimeOffset.UtcNow >= deadline)
                throw new VmHostException($"Network {spec.Name} on {spec.Subnet} was refused as existing but does not show yet: "
                    + "an earlier create of it may still be in flight.", transient: true);
            await Task.Delay(NetworkPollInterval, ct);
        }
    }

    private static readonly TimeSpan NetworkPollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>Whether a network's subnets overlap <paramref name="cidr"/> (the engine refuses overlaps, not just equals).</summary>
    private static bool HoldsSubnet(NetworkResponse network, string cidr)
    {
        var wanted = IPNetwork.Parse(cidr);
        return (network.IPAM?.Config ?? []).Any(c => IPNetwork.TryParse(c.Subnet, out var held)
            && (held.Contains(wanted.BaseAddress) || wanted.Contains(held.BaseAddress)));
    }

    /// <summary>
    /// Our network, found by name, is ours only on the subnet we asked for: another run of the same step may have made it
    /// on another subnet (its first choice was taken) and leased that one since, so a new try reads the lease again.
    /// </summary>
    private string AdoptNetwork(NetworkResponse network, ProjectNetworkSpec spec)
    {
        var subnets = network.IPAM?.Config?.Select(c => c.Subnet).ToList() ?? [];
        var id = Adopt(network.ID, network.Labels, spec.ProjectId, NetworkKind, spec.Name);
        if (!subnets.Contains(spec.Subnet)) throw new NetworkOnOtherSubnetException(spec.Name, string.Join(", ", subnets), id, spec.Subnet);
        return id;
    }

    /// <remarks>
    /// A new container costs the engine calls a client would make by hand (create the volumes, create, start): the create
    /// itself answers whether the name is taken (409), and only then is the container looked up by name, and adopted only
    /// when its labels name this project. A redelivered step thus reuses what it made; a container of another project is
    /// refused. With <see cref="ContainerSpec.LikelyExists"/> the look-up comes first instead.
    /// </remarks>
    public async Task<string> EnsureContainerStartedAsync(ContainerSpec spec, CancellationToken ct)
    {
        var existing = spec.LikelyExists ? await FindContainerAsync(spec.Name, ct) : null;
        if (existing is null)
        {
            // Before the create: a mount of a missing volume would make one without our labels.
            foreach (var volume in spec.Volumes)
                await EnsureVolumeAsync(ParseVolume(volume).Name, spec, ct);
            if (await CreateContainerAsync(spec, ct) is { } created)
                existing = new ContainerListResponse { ID = created, Labels = Labels(spec.ProjectId, spec.Role), State = "created" };
            else
                // The name is taken: by an earlier run of this step (adopted, started if need be) or by someone else (refused).
                existing = await FindContainerAsync(spec.Name, ct)
                    ?? throw new VmHostException($"Container {spec.Name} was refused as existing but cannot be found.", transient: true);
        }

        var id = Adopt(existing.ID, existing.Labels, spec.ProjectId, ContainerKind, spec.Name);
        if (existing.State == "running")
            return id;

        await Call($"Starting container {spec.Name}", async t =>
        {
            // False means it was already running: someone else started it since we looked.
            if (await docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), t))
                logger.LogInformation("Started container {Container} ({ContainerId})", spec.Name, id);
        }, ct);
        return id;
    }

    public async Task<ContainerState> InspectAsync(string nameOrId, CancellationToken ct)
    {
        var container = await Call($"Inspecting container {nameOrId}",
            t => NullIfNotFound(docker.Containers.InspectContainerAsync(nameOrId, t)), ct);
        if (container is null)
            return new ContainerState(string.Empty, ContainerHealth.Missing, null, new Dictionary<int, int>());

        var (health, detail) = HealthOf(container.State);
        return new ContainerState(container.ID, health, detail, PublishedPorts(container.NetworkSettings));
    }

    public Task StopContainerAsync(string nameOrId, TimeSpan grace, CancellationToken ct) =>
        // The engine answers once the container has stopped: the call may take the whole grace period on top of its own time.
        Call($"Stopping container {nameOrId}", async t =>
        {
            var parameters = new ContainerStopParameters { WaitBeforeKillSeconds = (uint)Math.Ceiling(grace.TotalSeconds) };
            if (await IgnoreNotFound(docker.Containers.StopContainerAsync(nameOrId, parameters, t)))
                logger.LogInformation("Stopped container {Container}", nameOrId);
        }, ct, extra: grace);

    public async Task ConnectContainerAsync(string container, string networkName, string ipAddress, CancellationToken ct)
    {
        var network = await FindNetworkAsync(networkName, ct)
            ?? throw new VmHostException($"Connecting {container}: network {networkName} does not exist.", transient: false);
        var attached = await AttachedAddressAsync(container, network.ID, ct);
        if (attached == ipAddress) return;
        if (attached is not null) await DisconnectContainerAsync(container, networkName, ct);
        await Call($"Connecting container {container} to {networkName} at {ipAddress}", async t =>
        {
            try
            {
                await docker.Networks.ConnectNetworkAsync(network.ID, new NetworkConnectParameters
                {
                    Container = container,
                    EndpointConfig = new EndpointSettings { IPAMConfig = new EndpointIPAMConfig { IPv4Address = ipAddress } },
                }, t);
            }
            // Another run of the same step connected it meanwhile: the address decides below.
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Forbidden && e.ResponseBody.Contains("already exists")) { }
            return true;
        }, ct);
        var now = await AttachedAddressAsync(container, network.ID, ct);
        if (now != ipAddress)
            throw new VmHostException($"Container {container} is on {networkName} at {now ?? "no address"}, not {ipAddress}.",
                transient: true);
        logger.LogInformation("Connected container {Container} to {Network} at {Address}", container, networkName, ipAddress);
    }

    public Task DisconnectContainerAsync(string container, string networkName, CancellationToken ct) =>
        Call($"Disconnecting container {container} from {networkName}", async t =>
        {
            try
            {
                await docker.Networks.DisconnectNetworkAsync(networkName,
                    new NetworkDisconnectParameters { Container = container, Force = true }, t);
                logger.LogInformation("Disconnected container {Container} from {Network}", container, networkName);
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound) { }
            // The engine answers 403 (older engines 500) when the container is not connected to that network.
            catch (DockerApiException e) when (e.ResponseBody.Contains("is not connected", StringComparison.OrdinalIgnoreCase)) { }
            return true;
        }, ct);

    /// <summary>The container's address on the network, or null when it is not connected (or gone).</summary>
    private async Task<string?> AttachedAddressAsync(string container, string networkId, CancellationToken ct)
    {
        var inspected = await Call($"Inspecting container {container}",
                t => NullIfNotFound(docker.Containers.InspectContainerAsync(container, t)), ct)
            ?? throw new VmHostException($"Container {container} does not exist.", transient: false);
        var endpoint = inspected.NetworkSettings?.Networks?.Values.FirstOrDefault(n => n.NetworkID == networkId);
        if (endpoint is null) return null;
        return endpoint.IPAMConfig?.IPv4Address is { Length: > 0 } fixedAddress ? fixedAddress : endpoint.IPAddress;
    }

    public async Task RemoveProjectAsync(Guid projectId, CancellationToken ct)
    {
        var filter = LabelFilter($"{PantheonLabels.ProjectId}={projectId:D}");

        // Containers first: a network or volume still in use cannot be removed.
        var containers = await Call("Listing project containers",
            t => docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, t), ct);
        foreach (var container in containers)
            await RemoveContainerAsync(container.ID, NameOf(container), ct);

        var networks = await Call("Listing project networks",
            t => docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, t), ct);
        foreach (var network in networks)
            await RemoveNetworkAsync(network.ID, network.Name, ct);

        var volumes = await Call("Listing project volumes",
            t => docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, t), ct);
        foreach (var volume in volumes.Volumes ?? [])
            await RemoveVolumeAsync(volume.Name, ct);
    }

    public async Task<IReadOnlyList<LabelledResource>> ListLabelledAsync(CancellationToken ct)
    {
        // Only this deployment's resources: another backend on the same engine (a second environment) owns its own.
        var filter = new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [PantheonLabels.ProjectId] = true, [$"{PantheonLabels.Instance}={settings.Instance}"] = true },
        };
        var containers = await Call("Listing labelled containers",
            t => docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, t), ct);
        var networks = await Call("Listing labelled networks",
            t => docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, t), ct);
        var volumes = await Call("Listing labelled volumes",
            t => docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, t), ct);

        return containers.Select(c => Labelled(ContainerKind, c.ID, NameOf(c), c.Labels))
            .Concat(networks.Select(n => Labelled(NetworkKind, n.ID, n.Name, n.Labels)))
            .Concat((volumes.Volumes ?? []).Select(v => Labelled(VolumeKind, v.Name, v.Name, v.Labels)))
            .OfType<LabelledResource>()
            .ToList();
    }

    public Task RemoveAsync(LabelledResource resource, CancellationToken ct) => resource.Kind switch
    {
        ContainerKind => RemoveContainerAsync(resource.Id, resource.Name, ct),
        NetworkKind => RemoveNetworkAsync(resource.Id, resource.Name, ct),
        VolumeKind => RemoveVolumeAsync(resource.Id, ct),
        _ => throw new ArgumentException($"Unknown resource kind '{resource.Kind}'.", nameof(resource)),
    };

    public Task<(long ExitCode, string Output)> ExecAsync(string container, IReadOnlyList<string> command, CancellationToken ct) =>
        // Only the program's name goes into messages: its arguments may carry secrets.
        Call($"Running {command.FirstOrDefault()} in container {container}", async t =>
        {
            var exec = await docker.Exec.ExecCreateContainerAsync(container,
                new ContainerExecCreateParameters { Cmd = command.ToList(), AttachStdout = true, AttachStderr = true }, t);
            using var stream = await docker.Exec.StartWithConfigContainerExecAsync(exec.ID,
                new ContainerExecStartParameters { AttachStdout = true, AttachStderr = true }, t);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(t);
            var result = await docker.Exec.InspectContainerExecAsync(exec.ID, t);
            // The output can end a moment before the engine records the exit code.
            while (result.Running)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), t);
                result = await docker.Exec.InspectContainerExecAsync(exec.ID, t);
            }
            if (result.ExitCode != 0)
                logger.LogDebug("Exec in {Container} exited {ExitCode}: {Stderr}", container, result.ExitCode, stderr.Trim());
            return (result.ExitCode, stdout);
        }, ct);

    private async Task<NetworkResponse?> FindNetworkAsync(string name, CancellationToken ct)
    {
        // The engine's name filter matches substrings, hence the exact comparison.
        var networks = await Call($"Looking up network {name}",
            t => docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = Filter("name", name) }, t), ct);
        return networks.FirstOrDefault(n => n.Name == name);
    }

    private async Task<ContainerListResponse?> FindContainerAsync(string name, CancellationToken ct)
    {
        var containers = await Call($"Looking up container {name}",
            t => docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Filter("name", name) }, t), ct);
        return containers.FirstOrDefault(c => c.Names?.Contains("/" + name) == true);
    }

    /// <returns>The new container's id, or null when a container of that name exists (whoever made it).</returns>
    private async Task<string?> CreateContainerAsync(ContainerSpec spec, CancellationToken ct)
    {
        var created = await Call($"Creating container {spec.Name} from {spec.Image}", async t =>
        {
            try { return await docker.Containers.CreateContainerAsync(ContainerParameters(spec), t); }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict) { return null; }
        }, ct);
        if (created is not null)
            logger.LogInformation("Created container {Container} ({ContainerId}) from {Image} at {Ip}", spec.Name, created.ID, spec.Image, spec.IpAddress);
        return created?.ID;
    }

    private CreateContainerParameters ContainerParameters(ContainerSpec spec)
    {
        var ports = spec.Ports.ToDictionary(p => $"{p.ContainerPort}/tcp");
        return new CreateContainerParameters
        {
            Name = spec.Name,
            Image = spec.Image,
            Cmd = spec.Command?.ToList(),
            Env = spec.Environment.Select(e => $"{e.Key}={e.Value}").ToList(),
            User = spec.User,
            Labels = Labels(spec.ProjectId, spec.Role),
            ExposedPorts = ports.Keys.ToDictionary(k => k, _ => new EmptyStruct()),
            StopTimeout = spec.StopGracePeriod,
            HostConfig = new HostConfig
            {
                NetworkMode = spec.NetworkName,
                Binds = spec.Binds.ToList(),
                Mounts = spec.Volumes.Select(ParseVolume).Select(v => new Mount { Type = "volume", Source = v.Name, Target = v.Target, ReadOnly = v.ReadOnly }).ToList(),
                Devices = spec.Devices.Select(ParseDevice).ToList(),
                CapAdd = spec.CapAdd.ToList(),
                CapDrop = spec.CapDrop.ToList(),
                // No process inside gains privileges through setuid binaries or file capabilities.
                SecurityOpt = ["no-new-privileges:true"],
                ReadonlyRootfs = spec.ReadOnlyRootFilesystem,
                Memory = spec.MemoryBytes ?? 0,
                // A CFS quota rather than NanoCPUs: the engine refuses NanoCPUs above its own CPU count, a quota caps at most.
                CPUPeriod = spec.Cpus is null ? 0 : CpuPeriodMicroseconds,
                CPUQuota = spec.Cpus is { } cpus ? (long)(cpus * CpuPeriodMicroseconds) : 0,
                PidsLimit = spec.PidsLimit,
                PortBindings = ports.ToDictionary(p => p.Key, p => (IList<PortBinding>)
                    [new PortBinding { HostIP = p.Value.HostIp, HostPort = p.Value.HostPort == 0 ? "" : p.Value.HostPort.ToString(CultureInfo.InvariantCulture) }]),
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            },
            NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings>
                {
                    [spec.NetworkName] = new() { IPAMConfig = new EndpointIPAMConfig { IPv4Address = spec.IpAddress } },
                },
            },
        };
    }

    private async Task EnsureVolumeAsync(string name, ContainerSpec spec, CancellationToken ct)
    {
        // The engine answers a create of an existing volume with that volume, its own labels and all (not the ones asked
        // for): the answer says whose it is, so no inspect is needed first, and a race between two creates is harmless.
        var volume = await Call($"Creating volume {name}",
            t => docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = name, Labels = Labels(spec.ProjectId, spec.Role) }, t), ct);
        _ = Adopt(volume.Name, volume.Labels, spec.ProjectId, VolumeKind, name);
        logger.LogInformation("Ensured volume {Volume}", name);
    }

    private Task RemoveContainerAsync(string id, string name, CancellationToken ct) =>
        Call($"Removing container {name}", async t =>
        {
            if (await IgnoreNotFound(docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, t)))
                logger.LogInformation("Removed container {Container} ({ContainerId})", name, id);
        }, ct);

    /// <summary>
    /// Removes a network after disconnecting whatever is still connected to it: the project's own containers are gone by
    /// then, so these are the backend's and the tools API's containers, which joined it at <c>.3</c> and <c>.1</c>.
    /// </summary>
    private async Task RemoveNetworkAsync(string id, string name, CancellationToken ct)
    {
        var network = await Call($"Inspecting network {name}", t => NullIfNotFound(docker.Networks.InspectNetworkAsync(id, t)), ct);
        foreach (var attached in network?.Containers?.Keys ?? [])
            await DisconnectContainerAsync(attached, id, ct);
        await Call($"Removing network {name}", async t =>
        {
            if (await IgnoreNotFound(docker.Networks.DeleteNetworkAsync(id, t)))
                logger.LogInformation("Removed network {Network} ({NetworkId})", name, id);
        }, ct);
    }

    private Task RemoveVolumeAsync(string name, CancellationToken ct) =>
        Call($"Removing volume {name}", async t =>
        {
            if (await IgnoreNotFound(docker.Volumes.RemoveAsync(name, force: null, t)))
                logger.LogInformation("Removed volume {Volume}", name);
        }, ct);

    /// <summary>Runs one engine call under the engine timeout and turns its failures into <see cref="VmHostException"/>.</summary>
    private async Task<T> Call<T>(string what, Func<CancellationToken, Task<T>> call, CancellationToken ct, TimeSpan extra = default)
    {
        var timeout = TimeSpan.FromSeconds(settings.TimeoutSeconds) + extra;
        // Streamed calls (exec) have no client timeout of their own, so every call gets one here.
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(timeout);
        try
        {
            // WaitAsync bounds even steps that ignore the token, such as the unix socket connect.
            return await call(bounded.Token).WaitAsync(timeout, ct);
        }
        catch (DockerApiException e)
        {
            var status = (int)e.StatusCode;
            // 5xx is the engine's own trouble and a 409 a conflict in flight; other 4xx is our spec.
            throw new VmHostException($"{what}: {EngineMessage(e)}", transient: status >= 500 || e.StatusCode == HttpStatusCode.Conflict, e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw NotAnswering(what, $"no answer within {timeout.TotalSeconds}s", e);
        }
        catch (Exception e) when (e is TimeoutException or HttpRequestException or SocketException or IOException)
        {
            throw NotAnswering(what, Messages(e), e);
        }
    }

    private Task Call(string what, Func<CancellationToken, Task> call, CancellationToken ct, TimeSpan extra = default) =>
        Call(what, async t => { await call(t); return true; }, ct, extra);

    private VmHostException NotAnswering(string what, string why, Exception inner) =>
        new($"Docker engine at {settings.Endpoint} did not answer: {what}: {why}", transient: true, inner);

    private static async Task<T?> NullIfNotFound<T>(Task<T> call) where T : class
    {
        try { return await call; }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound) { return null; }
    }

    /// <returns>False when the thing was already gone.</returns>
    private static async Task<bool> IgnoreNotFound(Task call)
    {
        try { await call; return true; }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound) { return false; }
    }

    private static string Adopt(string id, IDictionary<string, string>? labels, Guid projectId, string kind, string name) =>
        labels?.TryGetValue(PantheonLabels.ProjectId, out var owner) == true && owner == projectId.ToString("D")
            ? id
            : throw new VmHostException($"A {kind} named {name} already exists and does not belong to project {projectId:D}.", transient: false);

    private LabelledResource? Labelled(string kind, string id, string name, IDictionary<string, string>? labels)
    {
        var value = labels?.TryGetValue(PantheonLabels.ProjectId, out var v) == true ? v : null;
        if (!Guid.TryParse(value, out var projectId))
        {
            logger.LogWarning("Skipping {Kind} {Name}: its {Label} label '{Value}' is not a project id", kind, name, PantheonLabels.ProjectId, value);
            return null;
        }
        return new LabelledResource(kind, id, name, projectId, labels!.TryGetValue(PantheonLabels.Role, out var role) ? role : null);
    }

    private static (ContainerHealth, string?) HealthOf(DockerContainerState state)
    {
        if (!state.Running)
        {
            var error = string.IsNullOrEmpty(state.Error) ? "" : $": {state.Error}";
            return (ContainerHealth.NotRunning, $"{state.Status} (exit code {state.ExitCode}){error}");
        }
        return state.Health?.Status switch
        {
            null or "" or "none" => (ContainerHealth.Running, null),
            "healthy" => (ContainerHealth.Healthy, null),
            "unhealthy" => (ContainerHealth.Unhealthy, state.Health.Log?.LastOrDefault()?.Output?.Trim()),
            _ => (ContainerHealth.Starting, null),
        };
    }

    private static IReadOnlyDictionary<int, int> PublishedPorts(NetworkSettings? network)
    {
        var published = new Dictionary<int, int>();
        foreach (var (port, bindings) in network?.Ports ?? new Dictionary<string, IList<PortBinding>>())
        {
            var hostPort = bindings?.Select(b => int.TryParse(b.HostPort, out var p) ? p : 0).FirstOrDefault(p => p > 0) ?? 0;
            if (hostPort > 0 && int.TryParse(port.Split('/')[0], out var containerPort))
                published.TryAdd(containerPort, hostPort);
        }
        return published;
    }

    private static (string Name, string Target, bool ReadOnly) ParseVolume(string volume) => volume.Split(':') switch
    {
        [var name, var target] => (name, target, false),
        [var name, var target, "ro"] => (name, target, true),
        _ => throw new VmHostException($"Volume '{volume}' is not of the form name:/path[:ro].", transient: false),
    };

    private static DeviceMapping ParseDevice(string device) => device.Split(':') switch
    {
        [var path] => new DeviceMapping { PathOnHost = path, PathInContainer = path, CgroupPermissions = "rwm" },
        [var host, var inside] => new DeviceMapping { PathOnHost = host, PathInContainer = inside, CgroupPermissions = "rwm" },
        _ => throw new VmHostException($"Device '{device}' is not of the form /dev/x[:/dev/y].", transient: false),
    };

    private Dictionary<string, string> Labels(Guid projectId, string role) => new()
    {
        [PantheonLabels.ProjectId] = projectId.ToString("D"),
        [PantheonLabels.Role] = role,
        [PantheonLabels.Instance] = settings.Instance,
    };

    private static Dictionary<string, IDictionary<string, bool>> Filter(string key, string value) =>
        new() { [key] = new Dictionary<string, bool> { [value] = true } };

    private static Dictionary<string, IDictionary<string, bool>> LabelFilter(string label) => Filter("label", label);

    private static string NameOf(ContainerListResponse container) =>
        container.Names?.FirstOrDefault()?.TrimStart('/') ?? container.ID;

    /// <summary>The engine's own words: its body is <c>{"message": "..."}</c>, but not always.</summary>
    private static string EngineMessage(DockerApiException e)
    {
        try
        {
            using var body = JsonDocument.Parse(e.ResponseBody);
            if (body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("message", out var message))
                return message.GetString() ?? e.ResponseBody;
        }
        catch (JsonException)
        {
            // Not JSON: the raw body is the best words we have.
        }
        return string.IsNullOrWhiteSpace(e.ResponseBody) ? $"{(int)e.StatusCode} {e.StatusCode}" : e.ResponseBody.Trim();
    }

    private static string Messages(Exception e) =>
        e.InnerException is null ? e.Message : $"{e.Message} ({Messages(e.InnerException)})";
}
