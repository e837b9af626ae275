using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Wolverine;

namespace Pantheon.IntegrationTests.Projects;

[Collection(AppCollection.Name)]
public class ProvisioningFailureTests(AppFixture app)
{
    private IVmHost VmHost => app.Host.Services.GetRequiredService<IVmHost>();

    [Theory]
    [InlineData("pantheon/test-vm-unhealthy:latest", "did not become healthy within")]
    [InlineData("pantheon/does-not-exist:latest", "No such image")]
    public async Task a_vm_that_never_becomes_healthy_fails_the_project_and_leaves_nothing_behind(string image, string reason)
    {
        var settings = TestSettings.Base();
        settings["Vm:Image"] = image;
        settings["Vm:BootTimeoutSeconds"] = "4";
        await using var host = await AppFixture.StartAsync(settings);
        var token = TestSettings.TokenFor(TestSettings.NewUser());

        var id = await host.Create(token);
        var project = await host.WaitFor(token, id, ProjectStatus.Failed);
        project.FailedStep.ShouldNotBeNull();
        project.FailureReason!.ShouldContain(reason);
        project.Subnet.ShouldBeNull();

        (await VmHost.ListLabelledAsync(default)).ShouldNotContain(r => r.ProjectId == id);
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        (await session.Query<SubnetLease>().Where(l => l.ProjectId == id).CountAsync()).ShouldBe(0);

        await host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await host.WaitUntilGone(token, id);
    }

    [Fact]
    public async Task thirty_concurrent_creates_on_two_hosts_get_thirty_distinct_subnets()
    {
        // One user makes all thirty: both hosts allow that many projects.
        var settings = TestSettings.Base();
        settings["Limits:ProjectsPerUser"] = "30";
        // Test hosts run Solo, and every Solo host is node 1: two on one message store take each other's saga steps, which no
        // production layout does (the fault suite's TwoNodeTests runs two real Balanced nodes on one store). Each keeps its
        // messages apart here; the projects and subnet leases they contend for are the same documents.
        await using var first = await AppFixture.StartAsync(settings, messageSchema: AppFixture.MessageSchema("thirty_first"));
        await using var second = await AppFixture.StartAsync(settings, messageSchema: AppFixture.MessageSchema("thirty_second"));
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var ids = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => (i % 2 == 0 ? first : second).Create(token, $"parallel {i}")));

        var projects = await Task.WhenAll(ids.Select(id => app.Host.WaitFor(token, id, ProjectStatus.Ready, seconds: 240)));
        projects.ShouldAllBe(p => p.Status == ProjectStatus.Ready);
        projects.Select(p => p.Subnet).Distinct().Count().ShouldBe(30);

        foreach (var id in ids) await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        // As long as the creates may take: thirty removals at once on a two-core engine that the other collections' tests
        // also use, where a call the engine does not answer in Docker:TimeoutSeconds (30 s) is retried. A full run saw one
        // VM's removal time out twice and finish after 120 s.
        foreach (var id in ids) await app.Host.WaitUntilGone(token, id, seconds: 240);
    }

    [Fact]
    public async Task a_subnet_taken_on_the_engine_after_the_lease_looked_is_skipped_for_the_next()
    {
        // Another deployment on this engine takes the first free subnet between our look at the engine and our create.
        var taken = new SubnetPool(TestSettings.SubnetPool).FirstFree([], await VmHost.UsedSubnetsAsync(default))!.Value;
        var foreign = await app.Host.Services.GetRequiredService<Docker.DotNet.IDockerClient>().Networks.CreateNetworkAsync(new()
        {
            Name = $"foreign-{Guid.NewGuid():N}", Internal = true,
            IPAM = new() { Config = [new() { Subnet = taken.Cidr, Gateway = taken.Gateway }] },
        });
        try
        {
            await using var host = await AppFixture.StartAsync(TestSettings.Base(), services: s =>
                s.AddSingleton<IVmHost>(sp => new LookedTooEarly(ActivatorUtilities.CreateInstance<DockerVmHost>(sp), taken.Cidr)));
            var token = TestSettings.TokenFor(TestSettings.NewUser());

            var project = await host.WaitFor(token, await host.Create(token), ProjectStatus.Ready);

            project.Subnet.ShouldNotBeNull().ShouldNotBe(taken.Cidr);
            await host.Send(HttpMethod.Delete, $"/api/projects/{project.Id}", token, status: 202);
            await host.WaitUntilGone(token, project.Id);
        }
        finally
        {
            await app.Host.Services.GetRequiredService<Docker.DotNet.IDockerClient>().Networks.DeleteNetworkAsync(foreign.ID);
        }
    }

    /// <summary>The real engine, whose list of used subnets is read before a foreign network took one of them.</summary>
    private sealed class LookedTooEarly(IVmHost engine, string hidden) : EngineDecorator(engine)
    {
        public override async Task<IReadOnlyList<string>> UsedSubnetsAsync(CancellationToken ct) =>
            (await Engine.UsedSubnetsAsync(ct)).Where(s => s != hidden).ToList();
    }

    [Fact]
    public async Task a_host_stopped_after_the_network_is_allocated_is_finished_by_the_next_with_one_network()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        Guid id;
        await using (var first = await AppFixture.StartAsync(TestSettings.Base()))
        {
            id = await first.Create(token);
            await Eventually.Get(() => first.Find(token, id), p => p?.Subnet is not null, TimeSpan.FromSeconds(30), "the network to be allocated");
        }

        await using var next = await AppFixture.StartAsync(TestSettings.Base());
        var project = await next.WaitFor(token, id, ProjectStatus.Ready);
        var networks = (await VmHost.ListLabelledAsync(default)).Where(r => r.ProjectId == id && r.Kind == "network").ToList();
        networks.ShouldHaveSingleItem().Name.ShouldBe(project.Network);

        await next.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await next.WaitUntilGone(token, id);
    }

    [Fact]
    public async Task the_reconciler_removes_labelled_containers_and_networks_that_no_project_owns()
    {
        var orphan = Guid.NewGuid();
        var subnet = new SubnetPool(TestSettings.SubnetPool).FirstFree([], await VmHost.UsedSubnetsAsync(default))!.Value;
        var network = ProjectProvisioning.NetworkName(orphan);
        await VmHost.EnsureNetworkAsync(new ProjectNetworkSpec(orphan, network, subnet.Cidr, subnet.Gateway), default);
        await VmHost.EnsureContainerStartedAsync(new ContainerSpec(orphan, "vm", ProjectProvisioning.VmContainerName(orphan), "pantheon/test-vm:latest", network, subnet.Vm), default);
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var live = await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready);

        await app.Host.Services.GetRequiredService<IMessageBus>().InvokeAsync(new ReconcileOrphans());

        var left = await VmHost.ListLabelledAsync(default);
        left.ShouldNotContain(r => r.ProjectId == orphan);
        left.Count(r => r.ProjectId == live.Id).ShouldBe(4); // the live project keeps its network, file server, VM and storage volume
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var recorded = (await session.Events.FetchStreamAsync(ReconcileOrphansHandler.StreamId)).Select(e => e.Data).OfType<OrphanRemoved>().Where(o => o.ProjectId == orphan).ToList();
        recorded.Select(o => o.Kind).Order().ShouldBe(["container", "network"]);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{live.Id}", token, status: 202);
        await app.Host.WaitUntilGone(token, live.Id);
    }
}
