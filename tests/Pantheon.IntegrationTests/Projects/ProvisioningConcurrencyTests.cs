using System.Collections.Concurrent;
using Alba;
using Docker.DotNet;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Wolverine;
using Wolverine.Configuration;
using Wolverine.Runtime;

namespace Pantheon.IntegrationTests.Projects;

/// <summary>
/// A project's step never runs beside another run of itself: neither two messages of one project at once in a process, nor a
/// step's retry beside the engine call that its earlier attempt gave up on.
/// </summary>
[Collection(AppCollection.Name)]
public class ProvisioningConcurrencyTests(AppFixture app)
{
    [Fact]
    public async Task a_network_create_still_running_in_the_engine_when_its_step_is_retried_leaves_one_network_on_the_lease()
    {
        const int count = 6;
        var settings = TestSettings.Base();
        settings["Limits:ProjectsPerUser"] = $"{count}";
        TimesOutOnce? engine = null;
        await using var host = await AppFixture.StartAsync(settings, services: s =>
            s.AddSingleton<IVmHost>(sp => engine = new TimesOutOnce(ActivatorUtilities.CreateInstance<DockerVmHost>(sp))));
        var token = TestSettings.TokenFor(TestSettings.NewUser());

        var ids = await Task.WhenAll(Enumerable.Range(0, count).Select(i => host.Create(token, $"retried {i}")));
        var projects = await Task.WhenAll(ids.Select(id => host.WaitFor(token, id, ProjectStatus.Ready, seconds: 120)));

        projects.ShouldAllBe(p => p.Status == ProjectStatus.Ready, string.Join("; ", projects.Select(p => $"{p.Id}: {p.FailureReason}")));
        // The abandoned creates ended too, each in the network its project uses.
        var abandoned = await Task.WhenAll(engine!.Abandoned.Values);
        abandoned.Length.ShouldBe(count);
        var docker = app.Host.Services.GetRequiredService<IDockerClient>();
        var labelled = await app.Host.Services.GetRequiredService<IVmHost>().ListLabelledAsync(default);
        foreach (var project in projects)
        {
            var network = labelled.Where(r => r.ProjectId == project.Id && r.Kind == DockerVmHost.NetworkKind).ShouldHaveSingleItem();
            network.Name.ShouldBe(project.Network);
            var inspected = await docker.Networks.InspectNetworkAsync(network.Id);
            inspected.IPAM.Config.Select(c => c.Subnet).ShouldBe([project.Subnet]);
            abandoned.ShouldContain(inspected.ID);
        }

        foreach (var id in ids) await host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        foreach (var id in ids) await host.WaitUntilGone(token, id);
    }

    /// <summary>
    /// The first create of each project's network does not answer in time, as under load, and goes on in the engine after
    /// the step gave up on it: here it goes on exactly when the step's retry creates the same network.
    /// </summary>
    private sealed class TimesOutOnce(IVmHost engine) : EngineDecorator(engine)
    {
        private readonly ConcurrentDictionary<Guid, ProjectNetworkSpec> _timedOut = new();
        public ConcurrentDictionary<Guid, Task<string>> Abandoned { get; } = new();

        public override Task<string> EnsureNetworkAsync(ProjectNetworkSpec spec, CancellationToken ct)
        {
            if (_timedOut.TryAdd(spec.ProjectId, spec))
                throw new VmHostException($"Docker engine did not answer: Creating network {spec.Name}: no answer (test)", transient: true);
            if (_timedOut.TryGetValue(spec.ProjectId, out var first) && !Abandoned.ContainsKey(spec.ProjectId))
                Abandoned[spec.ProjectId] = Task.Run(() => Engine.EnsureNetworkAsync(first, CancellationToken.None));
            return Engine.EnsureNetworkAsync(spec, ct);
        }
    }

    [Fact]
    public async Task a_step_whose_saga_another_node_saved_meanwhile_runs_again_on_that_saga_instead_of_writing_over_it()
    {
        // A project's messages run one at a time within a process; two nodes can still run two of them at once. Here "the
        // other node" saves the saga while this node's AllocateNetwork is in the engine: this node's save is refused (the
        // saga is revisioned), and the step runs again on the saga as the other node left it.
        SavesTheSagaMeanwhile? engine = null;
        await using var host = await AppFixture.StartAsync(TestSettings.Base(), services: s => s.AddSingleton<IVmHost>(sp =>
            engine = new SavesTheSagaMeanwhile(ActivatorUtilities.CreateInstance<DockerVmHost>(sp), sp.GetRequiredService<IDocumentStore>())));
        var token = TestSettings.TokenFor(TestSettings.NewUser());

        var id = await host.Create(token, "raced");
        var project = await host.WaitFor(token, id, ProjectStatus.Ready, seconds: 120);

        project.Status.ShouldBe(ProjectStatus.Ready, project.FailureReason);
        engine!.NetworkCalls[id].ShouldBe(2, "the step's first save overwrote the saga that the other node had saved");
    }

    /// <summary>Saves the project's saga from a session of its own (another node's) during the step's first network call.</summary>
    private sealed class SavesTheSagaMeanwhile(IVmHost engine, IDocumentStore store) : EngineDecorator(engine)
    {
        public ConcurrentDictionary<Guid, int> NetworkCalls { get; } = new();

        public override async Task<string> EnsureNetworkAsync(ProjectNetworkSpec spec, CancellationToken ct)
        {
            if (NetworkCalls.AddOrUpdate(spec.ProjectId, 1, (_, calls) => calls + 1) == 1)
            {
                await using var otherNode = store.LightweightSession();
                var saga = (await otherNode.LoadAsync<ProjectProvisioning>(spec.ProjectId, ct))!;
                saga.LastError = "saved by another node (test)";
                otherNode.Update(saga);
                await otherNode.SaveChangesAsync(ct);
            }
            return await Engine.EnsureNetworkAsync(spec, ct);
        }
    }

    [Fact]
    public async Task every_message_of_one_project_goes_to_one_lane_of_the_step_queues()
    {
        var settings = TestSettings.Base();
        settings["Projects:StepQueues"] = "3";
        await using var host = await AppFixture.StartAsync(settings);
        using var scope = host.Services.CreateScope();
        var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
        var runtime = host.Services.GetRequiredService<IWolverineRuntime>();

        var queues = new HashSet<Uri>();
        foreach (var id in Enumerable.Range(1, 30).Select(i => new Guid(i, 7, 7, new byte[8])))
        {
            IProjectStep[] messages =
            [
                new StartProvisioning(id, "owner"), new AllocateNetwork(id), new ConnectBackend(id), new PrepareSharedFolder(id),
                new BootVm(id), new CheckVmHealth(id), new StopVm(id), new StartVm(id), new RetryProvisioning(id), new DeleteProject(id),
            ];
            var destinations = messages.SelectMany(m => bus.PreviewSubscriptions(m)).Select(e => e.Destination!).Distinct().ToList();
            queues.Add(destinations.ShouldHaveSingleItem($"project {id}: {string.Join(", ", destinations)}"));
        }

        queues.Select(q => q.ToString()).OrderBy(q => q).ShouldBe(Enumerable.Range(1, 3).Select(i => $"local://project-steps{i}/"));
        var endpoints = runtime.Options.Transports.AllEndpoints().Where(e => queues.Contains(e.Uri)).ToList();
        endpoints.Count.ShouldBe(3);
        endpoints.ShouldAllBe(e => e.GroupShardingSlotNumber == PartitionSlots.Nine && e.Mode == EndpointMode.Durable);
    }
}
