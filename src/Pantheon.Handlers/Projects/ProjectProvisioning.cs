using Marten;
using JasperFx.Events;
using Microsoft.Extensions.Logging;
using Pantheon.Domain.Projects;
using Pantheon.Projections.Projects;
using Wolverine;

namespace Pantheon.Handlers.Projects;

/// <summary>
/// Drives a project from request to a running VM, and later tears it down. Each step is one message; each is
/// idempotent (the engine calls reuse what exists by name and labels), so a redelivered or replayed step never
/// duplicates anything. A step whose failure may pass is retried with backoff; otherwise the saga removes what
/// it made, releases the subnet and records <see cref="ProjectProvisioningFailed"/>. The saga document stays
/// after deletion (state <see cref="ProvisioningStep.Deleted"/>) so that a step still in flight conflicts with
/// it and is turned into a cleanup instead of resurrecting the project.
/// </summary>
public sealed class ProjectProvisioning : Saga
{
    public Guid Id { get; set; }
    public string OwnerId { get; set; } = "";
    public ProvisioningStep Step { get; set; }
    public int Attempts { get; set; }
    public string? Subnet { get; set; }
    public string? NetworkId { get; set; }
    public string? SharedFolderServerId { get; set; }
    public string? VmContainerId { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? BootDeadline { get; set; }
    public string? LastError { get; set; }

    // The project's stream as this message sees it; a field, so it is never part of the saga's stored state.
    private IEventStream<ProjectView>? _project;

    /// <summary>Starts provisioning, unless the project was deleted before its first step ran.</summary>
    public static async Task<(ProjectProvisioning, OutgoingMessages)> Start(StartProvisioning command, IDocumentSession session, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var saga = new ProjectProvisioning { Id = command.ProjectId, OwnerId = command.OwnerId, Step = ProvisioningStep.AllocatingNetwork, StartedAt = now, UpdatedAt = now };
        var view = await session.LoadAsync<ProjectView>(command.ProjectId, ct);
        if (view is not null && view.Status != ProjectStatus.Deleting) return (saga, [new AllocateNetwork(command.ProjectId)]);

        saga.Step = ProvisioningStep.Deleted;
        if (view is not null) session.Events.Append(command.ProjectId, new ProjectDeleted(command.ProjectId, now));
        return (saga, []);
    }

    public async Task<OutgoingMessages> Handle(AllocateNetwork message, ProvisioningContext context, SubnetLeases leases, IDocumentSession session, CancellationToken ct)
    {
        if (!await IsAt(ProvisioningStep.AllocatingNetwork, context, session, ct)) return [];
        return await Run(message, "allocate-network", context, session, ct, async () =>
        {
            var name = NetworkName(Id);
            var (subnet, networkId) = await AllocateAsync(name, leases, context, ct);
            Subnet = subnet.Cidr;
            NetworkId = networkId;
            _project!.AppendOne(new NetworkAllocated(Id, subnet.Cidr, name, networkId, context.Time.GetUtcNow()));
            return Advance(ProvisioningStep.PreparingSharedFolder, new PrepareSharedFolder(Id), context);
        });
    }

    /// <summary>
    /// Leases a subnet and creates the network on it. A network that is not ours (another tool, another deployment on
    /// this engine) can take the subnet between our look at the engine and our create: then the next one is tried.
    /// </summary>
    private async Task<(Domain.Projects.Subnet, string)> AllocateAsync(string name, SubnetLeases leases, ProvisioningContext context,
        CancellationToken ct)
    {
        const int maxTaken = 16;
        var taken = new List<string>();
        while (true)
        {
            var subnet = await leases.LeaseAsync(Id, [.. await context.Host.UsedSubnetsAsync(ct), .. taken], ct);
            try
            {
                return (subnet, await context.Host.EnsureNetworkAsync(new ProjectNetworkSpec(Id, name, subnet.Cidr, subnet.Gateway), ct));
            }
            catch (NetworkOnOtherSubnetException e)
            {
                // Another run of this step made the network on a subnet it leased for this project: that one stands.
                if (!await leases.KeepOnlyAsync(Id, e.Subnet, ct)) throw;
                return (Domain.Projects.Subnet.Parse(e.Subnet), e.NetworkId);
            }
            catch (SubnetTakenException e) when (taken.Count < maxTaken)
            {
                context.Logger.LogInformation("Subnet {Subnet} was taken on the engine; leasing another for project {ProjectId}", e.Subnet, Id);
                taken.Add(subnet.Cidr);
                await leases.ReleaseAsync(Id, ct);
            }
        }
    }

    public async Task<OutgoingMessages> Handle(PrepareSharedFolder message, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        if (!await IsAt(ProvisioningStep.PreparingSharedFolder, context, session, ct)) return [];
        return await Run(message, "prepare-shared-folder", context, session, ct, async () =>
        {
            var subnet = Domain.Projects.Subnet.Parse(Subnet!);
            var folder = context.Folders.Prepare(Id, subnet);
            var settings = context.Settings;
            var serverId = await context.Host.EnsureContainerStartedAsync(new ContainerSpec(Id, "shared-folder", $"pantheon-{Id:N}-files",
                settings.FileServerImage, NetworkName(Id), subnet.SharedFolder)
            {
                Command = settings.FileServerCommand,
                Binds = [$"{settings.HostFolderFor(Id)}:/srv:ro"],
                User = settings.FileServerUser,
                CapDrop = ["ALL"],
                ReadOnlyRootFilesystem = true,
                MemoryBytes = settings.FileServerMemoryBytes,
                Cpus = settings.FileServerCpus,
                PidsLimit = settings.FileServerPidsLimit,
            }, ct);
            SharedFolderServerId = serverId;
            _project!.AppendOne(new SharedFolderPrepared(Id, folder, serverId, subnet.SharedFolder, context.Time.GetUtcNow()));
            return Advance(ProvisioningStep.BootingVm, new BootVm(Id), context);
        });
    }

    public async Task<OutgoingMessages> Handle(BootVm message, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        if (!await IsAt(ProvisioningStep.BootingVm, context, session, ct)) return [];
        return await Run(message, "boot-vm", context, session, ct, async () =>
        {
            var (vm, settings) = (context.Vm, context.Settings);
            var subnet = Domain.Projects.Subnet.Parse(Subnet!);
            VmContainerId = await context.Host.EnsureContainerStartedAsync(new ContainerSpec(Id, "vm", VmContainerName(Id), vm.Image, NetworkName(Id), subnet.Vm)
            {
                Command = vm.Command,
                Environment = vm.Environment,
                Binds = [$"{settings.HostFolderFor(Id)}:{vm.SharedFolderMount}"],
                Volumes = [$"pantheon-{Id:N}-storage:{vm.StorageMount}"],
                Devices = VmSettings.Split(vm.Devices),
                CapAdd = VmSettings.Split(vm.CapAdd),
                MemoryBytes = vm.MemoryBytes,
                Cpus = vm.Cpus,
                PidsLimit = vm.PidsLimit,
                StopGracePeriod = TimeSpan.FromSeconds(vm.StopGracePeriodSeconds),
                Ports = vm.ViewerPort > 0 ? [new PortPublish(vm.ViewerPort)] : [],
            }, ct);
            BootDeadline = context.Time.GetUtcNow().AddSeconds(vm.BootTimeoutSeconds);
            var messages = Advance(ProvisioningStep.WaitingForVm, new CheckVmHealth(Id), context);
            return [messages.Single().DelayedFor(TimeSpan.FromMilliseconds(vm.HealthPollMilliseconds))];
        });
    }

    public async Task<OutgoingMessages> Handle(CheckVmHealth message, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        if (!await IsAt(ProvisioningStep.WaitingForVm, context, session, ct)) return [];
        return await Run(message, "wait-for-vm", context, session, ct, async () =>
        {
            var vm = context.Vm;
            var state = await context.Host.InspectAsync(VmContainerName(Id), ct);
            var now = context.Time.GetUtcNow();
            switch (state.Health)
            {
                case ContainerHealth.Healthy or ContainerHealth.Running:
                    state.PublishedPorts.TryGetValue(vm.ViewerPort, out var viewer);
                    _project!.AppendOne(new VmBooted(Id, state.Id, Domain.Projects.Subnet.Parse(Subnet!).Vm, viewer == 0 ? null : viewer, now));
                    Step = ProvisioningStep.Ready;
                    UpdatedAt = now;
                    return [];
                case ContainerHealth.NotRunning or ContainerHealth.Missing:
                    return await Fail("wait-for-vm", $"The VM container stopped while booting: {state.Detail ?? state.Health.ToString()}", context, session, ct);
                default:
                    LastError = state.Detail;
                    if (now >= BootDeadline)
                        return await Fail("wait-for-vm",
                            $"The VM did not become healthy within {vm.BootTimeoutSeconds} s (last health: {state.Health}{(string.IsNullOrWhiteSpace(state.Detail) ? "" : ", " + state.Detail)}).",
                            context, session, ct);
                    return [new CheckVmHealth(Id).DelayedFor(TimeSpan.FromMilliseconds(vm.HealthPollMilliseconds))];
            }
        });
    }

    /// <summary>Teardown: containers, network and folder go, the subnet is released, and the project is deleted.</summary>
    public async Task Handle(DeleteProject message, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        if (Step == ProvisioningStep.Deleted) return;
        _project = await session.Events.FetchForWriting<ProjectView>(Id, ct);
        await Delete(context, session, ct);
    }

    private async Task Delete(ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        await context.RemoveEverythingAsync(Id, ct);
        session.DeleteWhere<SubnetLease>(l => l.ProjectId == Id);
        if (_project!.Aggregate is not null) _project.AppendOne(new ProjectDeleted(Id, context.Time.GetUtcNow()));
        Step = ProvisioningStep.Deleted;
        UpdatedAt = context.Time.GetUtcNow();
    }

    // A step for a project without a saga can only be a leftover: whatever it may have made is removed.
    public static Task NotFound(AllocateNetwork message, ProvisioningContext context, CancellationToken ct) => context.RemoveEverythingAsync(message.ProjectId, ct);
    public static Task NotFound(PrepareSharedFolder message, ProvisioningContext context, CancellationToken ct) => context.RemoveEverythingAsync(message.ProjectId, ct);
    public static Task NotFound(BootVm message, ProvisioningContext context, CancellationToken ct) => context.RemoveEverythingAsync(message.ProjectId, ct);
    public static Task NotFound(CheckVmHealth message, ProvisioningContext context, CancellationToken ct) => context.RemoveEverythingAsync(message.ProjectId, ct);

    /// <summary>Deleted before provisioning started: nothing can exist yet, but the deletion is still recorded.</summary>
    public static async Task NotFound(DeleteProject message, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        await context.RemoveEverythingAsync(message.ProjectId, ct);
        if (await session.LoadAsync<ProjectView>(message.ProjectId, ct) is not null)
            session.Events.Append(message.ProjectId, new ProjectDeleted(message.ProjectId, context.Time.GetUtcNow()));
    }

    public static string NetworkName(Guid projectId) => $"project-{projectId}-network";
    public static string VmContainerName(Guid projectId) => $"pantheon-{projectId:N}-vm";

    /// <summary>
    /// False when the message is stale (a redelivery of a finished step). A project whose deletion was asked for
    /// is deleted here and now, whichever message sees it first: the saga may have started in the same instant
    /// as the deletion, too late for the deletion to find it. After deletion a step may have raced the teardown,
    /// so whatever it made is removed again.
    /// </summary>
    private async Task<bool> IsAt(ProvisioningStep expected, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        if (Step == ProvisioningStep.Deleted)
        {
            await context.RemoveEverythingAsync(Id, ct);
            return false;
        }
        // Every append of the saga goes through this fetch, with the stream's version checked at commit: a step
        // that raced the deletion fails to commit, is retried, and then sees the deletion.
        _project = await session.Events.FetchForWriting<ProjectView>(Id, ct);
        if (_project.Aggregate is null or { Status: ProjectStatus.Deleting })
        {
            await Delete(context, session, ct);
            return false;
        }
        return Step == expected;
    }

    private OutgoingMessages Advance(ProvisioningStep next, object message, ProvisioningContext context)
    {
        Step = next;
        Attempts = 0;
        LastError = null;
        UpdatedAt = context.Time.GetUtcNow();
        return [message];
    }

    /// <summary>Runs a step: a failure that may pass is retried with backoff, anything else fails the project.</summary>
    private async Task<OutgoingMessages> Run(IProjectStep message, string step, ProvisioningContext context, IDocumentSession session,
        CancellationToken ct, Func<Task<OutgoingMessages>> action)
    {
        try
        {
            return await action();
        }
        catch (VmHostException e) when (e.Transient && Attempts + 1 < context.Settings.MaxStepAttempts)
        {
            Attempts++;
            LastError = e.Message;
            UpdatedAt = context.Time.GetUtcNow();
            var delay = TimeSpan.FromMilliseconds(context.Settings.RetryBaseDelayMilliseconds * Math.Pow(2, Attempts - 1));
            context.Logger.LogWarning("Project {ProjectId}: step {Step} failed (attempt {Attempt}), retrying in {Delay}: {Error}", Id, step, Attempts, delay, e.Message);
            return [message.DelayedFor(delay)];
        }
        catch (Exception e) when (e is VmHostException or SubnetPoolExhaustedException or IOException or UnauthorizedAccessException)
        {
            context.Logger.LogWarning("Project {ProjectId}: step {Step} failed: {Error}", Id, step, e.Message);
            return await Fail(step, e.Message, context, session, ct);
        }
    }

    /// <summary>Compensation: removes what provisioning made, releases the subnet, records the failure.</summary>
    private async Task<OutgoingMessages> Fail(string step, string reason, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        try
        {
            await context.RemoveEverythingAsync(Id, ct);
        }
        catch (VmHostException e)
        {
            // The reconciler removes what is left once the engine answers again; the failure itself must be recorded now.
            reason += $" (cleanup deferred to the reconciler: {e.Message})";
        }
        session.DeleteWhere<SubnetLease>(l => l.ProjectId == Id);
        _project!.AppendOne(new ProjectProvisioningFailed(Id, step, reason, context.Time.GetUtcNow()));
        Step = ProvisioningStep.Failed;
        LastError = reason;
        UpdatedAt = context.Time.GetUtcNow();
        return [];
    }
}
