using Docker.DotNet;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Projects;

/// <summary>
/// The start-up pass of the reconciler, on a database of its own and an instance label of its own under this run's
/// (<see cref="TestSettings.Instance"/>): a pass with no projects in its database would otherwise take every other
/// test's machines for orphans, and other fixtures' clean-ups would take these orphans before the reconciler does.
/// </summary>
public sealed class ReconcilerStartupTests
{
    private static readonly string Instance = $"{TestSettings.Instance}-orphans";

    [Fact]
    public async Task orphans_made_while_the_backend_was_down_are_removed_within_seconds_of_start_each_with_an_event()
    {
        var connection = await TestDatabase.OwnAsync("reconciler");
        using var docker = new DockerClientConfiguration(new Uri(TestSettings.DockerEndpoint)).CreateClient();
        var engine = new DockerVmHost(docker, new DockerSettings { Endpoint = TestSettings.DockerEndpoint, Instance = Instance },
            NullLogger<DockerVmHost>.Instance);
        var project = Guid.NewGuid(); // no such project in any database
        try
        {
            // What a crash between a Docker call and its event leaves: our labels, no project.
            var subnet = await FreeSubnetAsync(engine);
            var network = new ProjectNetworkSpec(project, $"project-{project}-network", subnet.Cidr, subnet.Gateway);
            var networkId = await engine.EnsureNetworkAsync(network, default);
            var containerId = await engine.EnsureContainerStartedAsync(
                new ContainerSpec(project, "vm", $"project-{project}-vm", "pantheon/test-vm:latest", network.Name, subnet.Vm), default);
            (await engine.ListLabelledAsync(default)).Count(r => r.ProjectId == project).ShouldBe(2);

            var settings = TestSettings.Base();
            settings["ConnectionStrings:Marten"] = connection;
            settings["Docker:Instance"] = Instance;
            settings["Projects:ReconcilerEnabled"] = "true";
            settings["Projects:ReconcileIntervalSeconds"] = "3600"; // only the start-up pass can do it in time
            await using var host = await AppFixture.StartAsync(settings);

            await Eventually.Get(() => engine.ListLabelledAsync(default), r => r.All(x => x.ProjectId != project),
                TimeSpan.FromSeconds(15), "the orphans to be removed");
            var removed = await Eventually.Get(async () =>
            {
                await using var session = host.Services.GetRequiredService<IDocumentStore>().QuerySession();
                var events = await session.Events.FetchStreamAsync(ReconcileOrphansHandler.StreamId);
                return events.Select(e => e.Data).OfType<OrphanRemoved>().Where(e => e.ProjectId == project).ToList();
            }, r => r.Count == 2, TimeSpan.FromSeconds(10), "an OrphanRemoved event for each");
            removed.Select(r => (r.Kind, r.ResourceId)).OrderBy(r => r.Kind)
                .ShouldBe([("container", containerId), ("network", networkId)]);
        }
        finally
        {
            await engine.RemoveProjectAsync(project, default);
        }
    }

    /// <summary>A /24 at the top of this run's pool (provisioning takes the lowest) that no network on the engine uses.</summary>
    private static async Task<Subnet> FreeSubnetAsync(IVmHost engine)
    {
        var used = await engine.UsedSubnetsAsync(default);
        return new SubnetPool(TestSettings.SubnetPool).All().Reverse().First(s => !used.Contains(s.Cidr));
    }
}
