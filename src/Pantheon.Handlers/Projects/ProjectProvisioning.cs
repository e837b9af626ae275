using JasperFx;
using JasperFx.Events;
using Marten;
using Microsoft.Extensions.Logging;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Wolverine;

namespace Pantheon.Handlers.Projects;

/// <summary>
/// Drives a project's machines: from request to a running VM, stop and start, and teardown. Each step is one message;
/// each is idempotent (the engine calls reuse what exists by name and labels), so a redelivered or replayed step never
/// duplicates anything; and a project's messages run one at a time, in one lane of the step queues (see
/// <c>ProjectConfiguration.AddProjects(WolverineOptions, ...)</c>). What a step records is decided by <see
/// cref="ProjectDecider"/> on the <see cref="Project"/> aggregate, fetched for writing (its version is checked at
/// commit); the saga keeps only where it is, its attempts and its deadline (and, for operators, its last error and
/// times). A step whose failure may pass is retried with backoff; otherwise provisioning removes what it made, releases
/// the subnet and records <see cref="ProjectProvisioningFailed"/>, and a failed start or stop records that and keeps
/// the VM's storage. The saga document stays after deletion (state <see cref="ProvisioningStep.Deleted"/>) so that a
/// step still in flight conflicts with it and is turned into a cleanup instead of resurrecting the project. The saga is
/// <see cref="IRevisioned"/>: Wolverine saves it only over the revision it loaded, so a node that handled another message of
/// the project meanwhile (a project's messages share a lane only within one process) makes this save fail and the message
/// run again on the newer saga, instead of one node writing over the other's step, attempts or deadline.
/// </summary>
public sealed class ProjectProvisioning : Saga, IRevisioned
{
    public Guid Id { get; set; }
    public ProvisioningStep Step { get; set; }
    public int Attempts { get; set; }

    /// <summary>When the VM must be healthy by, while it boots or starts.</summary>
    public DateTimeOffset? Deadline { get; set; }

    /// <summary>For operators: the last failure of the step in flight, and the saga's times.</summary>
    public string? LastError { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Starts provisioning, unless the project was deleted before its first step ran.</summary>
    public static async Task<(ProjectProvisioning, OutgoingMessages)> Start(StartProvisioning command, IDocumentSession session, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var saga = new ProjectProvisioning
        {
            Id = command.ProjectId, Step = ProvisioningStep.AllocatingNetwork, StartedAt = now, UpdatedAt = now,
        };
        var stream = await session.Events.FetchForWriting<Project>(command.ProjectId, ct);
        if (stream.Aggregate is { Status: not (ProjectStatus.Deleting or ProjectStatus.Deleted) })
            return (saga, [new AllocateNetwork(command.ProjectId)]);

        saga.Step = ProvisioningStep.Deleted;
        if (stream.Aggregate is not null) stream.AppendOne(new ProjectDeleted(command.ProjectId, now));
        return (saga, []);
    }

    public async Task<OutgoingMessages> Handle(AllocateNetwork message, ProvisioningContext context, SubnetLeases leases, IDocumentSession session, CancellationToken ct)
    {
        if (await Enter(ProvisioningStep.AllocatingNetwork, context, session, ct) is not { } stream) return [];
        var step = "allocate-network";
        return await Run(message, step, context, ct, FailProvisioning(stream, step, context, session, ct), async () =>
        {
            var name = NetworkName(Id);
            var (subnet, networkId) = await AllocateAsync(name, leases, context, ct);
            stream.AppendMany(ProjectDecider.AllocateNetwork(stream.Aggregate!, subnet, name, networkId, context.Time.GetUtcNow()));
            return context.Settings.BackendContainer is { Length: > 0 }
                ? Advance(ProvisioningStep.ConnectingBackend, new ConnectBackend(Id), context)
                : Advance(ProvisioningStep.PreparingSharedFolder, new PrepareSharedFolder(Id), context);
        });
    }

    /// <summary>
    /// The backend runs in a container (<c>Projects:BackendContainer</c>): it joins the project network at <c>.3</c>, from
    /// where the viewer proxy reaches the VM at <c>.2</c>. Undone by deletion and by a failure's cleanup (the network's
    /// removal disconnects it first).
    /// </summary>
    public async Task<OutgoingMessages> Handle(ConnectBackend message, ProvisioningContext context, IDocumentSession session,
        CancellationToken ct)
    {
        if (await Enter(ProvisioningStep.ConnectingBackend, context, session, ct) is not { } stream) return [];
        var step = "connect-backend";
        return await Run(message, step, context, ct, FailProvisioning(stream, step, context, session, ct), async () =>
        {
            var subnet = stream.Aggregate!.Subnet!.Value;
            await context.Host.ConnectContainerAsync(context.Settings.BackendContainer!, NetworkName(Id), subnet.Backend, ct);
            return Advance(ProvisioningStep.PreparingSharedFolder, new PrepareSharedFolder(Id), context);
        });
    }

    /// <summary>
    /// Leases a subnet and creates the network on it. A network that is not ours (another tool, another deployment on
    /// this engine) can take the subnet between our look at the engine and our create: then the next one is tried.
    /// </summary>
    private async Task<(Subnet, string)> AllocateAsync(string name, SubnetLeases leases, ProvisioningContext context, CancellationToken ct)
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
                return (Subnet.Parse(e.Subnet), e.NetworkId);
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
        if (await Enter(ProvisioningStep.PreparingSharedFolder, context, session, ct) is not { } stream) return [];
        var step = "prepare-shared-folder";
        return await Run(message, step, context, ct, FailProvisioning(stream, step, context, session, ct), async () =>
        {
            var project = stream.Aggregate!;
            var subnet = project.Subnet!.Value;
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
            stream.AppendMany(ProjectDecider.PrepareSharedFolder(project, folder, serverId, context.Time.GetUtcNow()));
            return Advance(ProvisioningStep.BootingVm, new BootVm(Id), context);
        });
    }

    public async Task<OutgoingMessages> Handle(BootVm message, ProvisioningContext context, IDocumentSession session, IMessageContext bus,
        CancellationToken ct)
    {
        if (await Enter(ProvisioningStep.BootingVm, context, session, ct) is not { } stream) return [];
        return await Run(message, "boot-vm", context, ct, FailProvisioning(stream, "boot-vm", context, session, ct),
            () => StartContainerAsync(stream.Aggregate!, context, bus, ct));
    }

    /// <summary>Creates the VM container (or starts the stopped one: its <c>/storage</c> volume is the same) and waits for it.</summary>
    private async Task<OutgoingMessages> StartContainerAsync(Project project, ProvisioningContext context, IMessageContext bus, CancellationToken ct)
    {
        var (vm, settings) = (context.Vm, context.Settings);
        var subnet = project.Subnet!.Value;
        await context.Host.EnsureContainerStartedAsync(new ContainerSpec(Id, "vm", VmContainerName(Id), vm.Image, NetworkName(Id),
            subnet.Vm)
        {
            Command = vm.Command,
            Environment = vm.Environment,
            Binds = [$"{settings.HostFolderFor(Id)}:{vm.SharedFolderMount}"],
            Volumes = [$"{StorageVolumeName(Id)}:{vm.StorageMount}"],
            Devices = VmSettings.Split(vm.Devices),
            CapAdd = VmSettings.Split(vm.CapAdd),
            MemoryBytes = vm.MemoryBytes,
            Cpus = vm.Cpus,
            PidsLimit = vm.PidsLimit,
            StopGracePeriod = TimeSpan.FromSeconds(vm.StopGracePeriodSeconds),
            Ports = vm.ViewerPort > 0 ? [new PortPublish(vm.ViewerPort)] : [],
            LikelyExists = project.Status == ProjectStatus.Starting, // a stopped VM started again, not a first boot
        }, ct);
        Deadline = context.Time.GetUtcNow().AddSeconds(vm.BootTimeoutSeconds);
        // The engine's word on this VM is passed on as this step's own sender (user and correlation), as its poll is.
        context.Waits.Begin(Id, new VmWaitOrigin(bus.UserName, bus.CorrelationId));
        var messages = Advance(ProvisioningStep.WaitingForVm, new CheckVmHealth(Id), context);
        return [messages.Single().DelayedFor(TimeSpan.FromMilliseconds(vm.HealthPollMilliseconds))];
    }

    public Task<OutgoingMessages> Handle(CheckVmHealth message, ProvisioningContext context, IDocumentSession session, CancellationToken ct) =>
        LookAtVm(message, poll: true, context, session, ct);

    /// <summary>
    /// The engine said the VM became healthy or died: a look now, if the saga still waits for it. It schedules nothing (the
    /// poll that <see cref="StartContainerAsync"/> began goes on) and leaves the deadline to the poll.
    /// </summary>
    public Task<OutgoingMessages> Handle(VmHealthChanged message, ProvisioningContext context, IDocumentSession session, CancellationToken ct) =>
        LookAtVm(message, poll: false, context, session, ct);

    private async Task<OutgoingMessages> LookAtVm(IProjectStep message, bool poll, ProvisioningContext context, IDocumentSession session,
        CancellationToken ct)
    {
        // A poll or an event that came after the wait ended (the other one ended it) has nothing to look at: it reads nothing.
        if (Step != ProvisioningStep.WaitingForVm)
        {
            context.Waits.End(Id);
            return [];
        }
        if (await Enter(ProvisioningStep.WaitingForVm, context, session, ct) is not { } stream) return [];
        var project = stream.Aggregate!;
        var starting = project.Status == ProjectStatus.Starting;
        var step = starting ? "start-vm" : "wait-for-vm";
        var fail = starting ? FailStart(stream, context, ct) : FailProvisioning(stream, step, context, session, ct);
        return await Run(message, step, context, ct, fail, async () =>
        {
            var vm = context.Vm;
            var state = await context.Host.InspectAsync(VmContainerName(Id), ct);
            var now = context.Time.GetUtcNow();
            switch (state.Health)
            {
                case ContainerHealth.Healthy or ContainerHealth.Running:
                    state.PublishedPorts.TryGetValue(vm.ViewerPort, out var viewer);
                    stream.AppendMany(ProjectDecider.VmHealthy(project, state.Id, viewer == 0 ? null : viewer, now));
                    Advance(ProvisioningStep.Ready, null, context);
                    Deadline = null;
                    context.Waits.End(Id);
                    return [];
                case ContainerHealth.NotRunning or ContainerHealth.Missing:
                    return await fail($"The VM container stopped while booting: {state.Detail ?? state.Health.ToString()}");
                default:
                    LastError = state.Detail;
                    if (!poll) return [];
                    if (now >= Deadline)
                        return await fail($"The VM did not become healthy within {vm.BootTimeoutSeconds} s (last health: {state.Health}"
                            + $"{(string.IsNullOrWhiteSpace(state.Detail) ? "" : ", " + state.Detail)}).");
                    return [new CheckVmHealth(Id).DelayedFor(TimeSpan.FromMilliseconds(vm.HealthPollMilliseconds))];
            }
        });
    }

    /// <summary>Stops the VM container (its storage, network and shared folder stay), then starts it again if that was asked.</summary>
    public async Task<OutgoingMessages> Handle(StopVm message, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        if (await Enter(null, context, session, ct) is not { Aggregate.Status: ProjectStatus.Stopping } stream) return [];
        Step = ProvisioningStep.StoppingVm;
        return await Run(message, "stop-vm", context, ct, FailStop(stream, context), async () =>
        {
            await context.Host.StopContainerAsync(VmContainerName(Id), TimeSpan.FromSeconds(context.Vm.StopGracePeriodSeconds), ct);
            var events = ProjectDecider.VmHasStopped(stream.Aggregate!, context.Time.GetUtcNow());
            stream.AppendMany(events);
            Advance(ProvisioningStep.Stopped, null, context);
            return ProjectSagaMessages.For(Id, events);
        });
    }

    /// <summary>Starts the stopped VM container and waits for it to be healthy, as at boot.</summary>
    public async Task<OutgoingMessages> Handle(StartVm message, ProvisioningContext context, IDocumentSession session, IMessageContext bus,
        CancellationToken ct)
    {
        if (await Enter(null, context, session, ct) is not { Aggregate.Status: ProjectStatus.Starting } stream) return [];
        if (Step == ProvisioningStep.WaitingForVm) return []; // a second start while this one waits for health
        Step = ProvisioningStep.StartingVm;
        return await Run(message, "start-vm", context, ct, FailStart(stream, context, ct), () =>
            StartContainerAsync(stream.Aggregate!, context, bus, ct));
    }

    /// <summary>A failed project is provisioned again: its failure removed everything, so this is the first step again.</summary>
    public async Task<OutgoingMessages> Handle(RetryProvisioning message, ProvisioningContext context, IDocumentSession session,
        CancellationToken ct)
    {
        var stream = await Enter(null, context, session, ct);
        if (stream is not { Aggregate.Status: ProjectStatus.Requested } || Step != ProvisioningStep.Failed) return [];
        return Advance(ProvisioningStep.AllocatingNetwork, new AllocateNetwork(Id), context);
    }

    /// <summary>
    /// Teardown: containers, network, volume and folder go, the subnet is released, and the project is deleted. An engine that
    /// does not answer is tried again with backoff, as a step is. Past the last attempt the deletion is recorded all the same:
    /// a deleted project owns nothing, so the reconciler removes what is left once the engine answers.
    /// </summary>
    public async Task<OutgoingMessages> Handle(DeleteProject message, ProvisioningContext context, IDocumentSession session,
        CancellationToken ct)
    {
        if (Step == ProvisioningStep.Deleted) return [];
        var stream = await session.Events.FetchForWriting<Project>(Id, ct);
        return await Run(message, "delete", context, ct,
            reason =>
            {
                RecordDeletion(stream, context, session);
                LastError = $"{reason} (cleanup deferred to the reconciler)";
                return Task.FromResult(new OutgoingMessages());
            },
            async () =>
            {
                await Delete(stream, context, session, ct);
                return [];
            });
    }

    private async Task Delete(IEventStream<Project> stream, ProvisioningContext context, IDocumentSession session, CancellationToken ct)
    {
        await context.RemoveEverythingAsync(Id, ct);
        RecordDeletion(stream, context, session);
    }

    private void RecordDeletion(IEventStream<Project> stream, ProvisioningContext context, IDocumentSession session)
    {
        context.Waits.End(Id);
        session.DeleteWhere<SubnetLease>(l => l.ProjectId == Id);
        session.QueueSqlCommand($"delete from {session.DocumentStore.Options.DatabaseSchemaName}.{ProjectActivity.Table} where project_id = ?", Id);
        if (stream.Aggregate is { Status: not ProjectStatus.Deleted }) stream.AppendOne(new ProjectDeleted(Id, context.Time.GetUtcNow()));
        Step = ProvisioningStep.Deleted;
        UpdatedAt = context.Time.GetUtcNow();
    }

    // A step for a project without a saga can only be a leftover: whatever it may have made is removed.
    public static Task NotFound(AllocateNetwork message, ProvisioningContext context, CancellationToken ct) => context.RemoveEverythingAsync(message.ProjectId, ct);
    public static Task NotFound(ConnectBackend message, ProvisioningContext context, CancellationToken ct) =>
        context.RemoveEverythingAsync(message.ProjectId, ct);
    public static Task NotFound(PrepareSharedFolder message, ProvisioningContext context, CancellationToken ct) => context.RemoveEverythingAsync(message.ProjectId, ct);
    public static Task NotFound(BootVm message, ProvisioningContext context, CancellationToken ct) => context.RemoveEverythingAsync(message.ProjectId, ct);
    public static Task NotFound(CheckVmHealth message, ProvisioningContext context, CancellationToken ct) => context.RemoveEverythingAsync(message.ProjectId, ct);
    // The engine's word about a container that no saga owns: the reconciler judges what is left, if anything.
    public static void NotFound(VmHealthChanged message) { }

    // Lifecycle messages need a project that was provisioned, so a saga; without one there is nothing to stop or start.
    public static void NotFound(StopVm message, ILogger<ProjectProvisioning> logger) =>
        logger.LogWarning("No saga for project {ProjectId}: stop ignored", message.ProjectId);
    public static void NotFound(StartVm message, ILogger<ProjectProvisioning> logger) =>
        logger.LogWarning("No saga for project {ProjectId}: start ignored", message.ProjectId);
    public static void NotFound(RetryProvisioning message, ILogger<ProjectProvisioning> logger) =>
        logger.LogWarning("No saga for project {ProjectId}: retry ignored", message.ProjectId);

    /// <summary>
    /// Deleted before provisioning started (or a project that never had a saga): nothing can exist yet, but the deletion is
    /// still recorded. Wolverine's generated code commits no session on a saga's not-found branch, so this one commits its own.
    /// </summary>
    public static async Task NotFound(DeleteProject message, ProvisioningContext context, ActorSessions sessions, CancellationToken ct)
    {
        await context.RemoveEverythingAsync(message.ProjectId, ct);
        await using var session = await sessions.ForAsync(new DatabaseActor.System("deletion without a saga"), ct);
        var stream = await session.Events.FetchForWriting<Project>(message.ProjectId, ct);
        if (stream.Aggregate is not { Status: not ProjectStatus.Deleted }) return;
        stream.AppendOne(new ProjectDeleted(message.ProjectId, context.Time.GetUtcNow()));
        await session.SaveChangesAsync(ct);
    }

    public static string NetworkName(Guid projectId) => $"project-{projectId}-network";
    public static string VmContainerName(Guid projectId) => $"pantheon-{projectId:N}-vm";

    /// <summary>The VM's <c>/storage</c>: kept when the VM stops, removed with the project.</summary>
    public static string StorageVolumeName(Guid projectId) => $"pantheon-{projectId:N}-storage";

    /// <summary>
    /// The project's stream, fetched for writing, or null when the message is stale (a redelivery of a finished step; with a
    /// null <paramref name="expected"/> the handler checks the project's status itself). A project whose deletion was asked
    /// for is deleted here and now, whichever message sees it first: the saga may have started in the same instant as the
    /// deletion, too late for the deletion to find it. After deletion a step may have raced the teardown, so whatever it made
    /// is removed again.
    /// </summary>
    private async Task<IEventStream<Project>?> Enter(ProvisioningStep? expected, ProvisioningContext context, IDocumentSession session,
        CancellationToken ct)
    {
        if (Step == ProvisioningStep.Deleted)
        {
            await context.RemoveEverythingAsync(Id, ct);
            return null;
        }
        // Every append of the saga goes through this fetch, with the stream's version checked at commit: a step that raced
        // the deletion (or a stop asked for meanwhile) fails to commit, is retried, and then sees it.
        var stream = await session.Events.FetchForWriting<Project>(Id, ct);
        if (stream.Aggregate is null or { Status: ProjectStatus.Deleting or ProjectStatus.Deleted })
        {
            await Delete(stream, context, session, ct);
            return null;
        }
        return expected is null || Step == expected ? stream : null;
    }

    private OutgoingMessages Advance(ProvisioningStep next, object? message, ProvisioningContext context)
    {
        Step = next;
        Attempts = 0;
        LastError = null;
        UpdatedAt = context.Time.GetUtcNow();
        return message is null ? [] : [message];
    }

    /// <summary>Runs a step: a failure that may pass is retried with backoff, anything else goes to <paramref name="fail"/>.</summary>
    private async Task<OutgoingMessages> Run(IProjectStep message, string step, ProvisioningContext context, CancellationToken ct,
        Func<string, Task<OutgoingMessages>> fail, Func<Task<OutgoingMessages>> action)
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
            context.Logger.LogWarning("Project {ProjectId}: step {Step} failed (attempt {Attempt}), retrying in {Delay}: {Error}",
                Id, step, Attempts, delay, e.Message);
            return [message.DelayedFor(delay)];
        }
        catch (Exception e) when (e is VmHostException or SubnetPoolExhaustedException or IOException or UnauthorizedAccessException)
        {
            context.Logger.LogWarning("Project {ProjectId}: step {Step} failed: {Error}", Id, step, e.Message);
            return await fail(e.Message);
        }
    }

    /// <summary>Compensation: removes what provisioning made, releases the subnet, records the failure.</summary>
    private Func<string, Task<OutgoingMessages>> FailProvisioning(IEventStream<Project> stream, string step, ProvisioningContext context,
        IDocumentSession session, CancellationToken ct) => async reason =>
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
        context.Waits.End(Id);
        stream.AppendMany(ProjectDecider.FailProvisioning(stream.Aggregate!, step, reason, context.Time.GetUtcNow()));
        Advance(ProvisioningStep.Failed, null, context);
        LastError = reason;
        return [];
    };

    /// <summary>A start that failed leaves the VM stopped, its storage kept: it can be started again.</summary>
    private Func<string, Task<OutgoingMessages>> FailStart(IEventStream<Project> stream, ProvisioningContext context,
        CancellationToken ct) =>
        async reason =>
        {
            try
            {
                await context.Host.StopContainerAsync(VmContainerName(Id), TimeSpan.FromSeconds(context.Vm.StopGracePeriodSeconds), ct);
            }
            catch (VmHostException e)
            {
                reason += $" (and stopping it failed: {e.Message})";
            }
            context.Waits.End(Id);
            stream.AppendMany(ProjectDecider.StartFailed(stream.Aggregate!, reason, context.Time.GetUtcNow()));
            Advance(ProvisioningStep.Stopped, null, context);
            Deadline = null;
            LastError = reason;
            return [];
        };

    /// <summary>A stop that failed for good leaves the VM running.</summary>
    private Func<string, Task<OutgoingMessages>> FailStop(IEventStream<Project> stream, ProvisioningContext context) => reason =>
    {
        stream.AppendMany(ProjectDecider.StopFailed(stream.Aggregate!, reason, context.Time.GetUtcNow()));
        Advance(ProvisioningStep.Ready, null, context);
        LastError = reason;
        return Task.FromResult(new OutgoingMessages());
    };
}
