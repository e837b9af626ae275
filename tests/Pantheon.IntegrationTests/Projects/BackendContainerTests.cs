using Docker.DotNet;
using Docker.DotNet.Models;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Tools;
using Pantheon.Tools.Network;
using Pantheon.Tools.Projects;

namespace Pantheon.IntegrationTests.Projects;

/// <summary>
/// A backend that runs in a container (<c>Projects:BackendContainer</c>) and a tools API that runs in one
/// (<c>Tools:Container</c>), each played by a small stand-in container of this run's instance: provisioning connects the
/// backend's at <c>.3</c> and the tools' loop joins at <c>.1</c>; deletion disconnects both and removes the network.
/// </summary>
public sealed class BackendContainerFixture : AppFixture, IAsyncLifetime
{
    public static readonly string Backend = $"{TestSettings.Instance}-backend-stand-in";
    public static readonly string Tools = $"{TestSettings.Instance}-tools-stand-in";

    protected override void Configure(Dictionary<string, string?> settings) => settings["Projects:BackendContainer"] = Backend;

    async Task IAsyncLifetime.InitializeAsync()
    {
        await StandInsAsync();
        await InitializeAsync();
    }

    private static async Task StandInsAsync()
    {
        using var docker = new DockerClientConfiguration(new Uri(TestSettings.DockerEndpoint)).CreateClient();
        foreach (var name in new[] { Backend, Tools })
        {
            await RemoveAsync(docker, name);
            await docker.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Name = name,
                Image = "pantheon/busybox:latest",
                Cmd = ["sleep", "86400"],
                Labels = new Dictionary<string, string> { [PantheonLabels.Instance] = TestSettings.Instance },
                // Not "none": a container without a network stack of its own cannot join any network.
                HostConfig = new HostConfig { NetworkMode = "bridge" },
            });
            await docker.Containers.StartContainerAsync(name, new ContainerStartParameters());
        }
    }

    public static async Task RemoveAsync(IDockerClient docker, string name)
    {
        try { await docker.Containers.RemoveContainerAsync(name, new ContainerRemoveParameters { Force = true }); }
        catch (DockerContainerNotFoundException) { }
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        using var docker = new DockerClientConfiguration(new Uri(TestSettings.DockerEndpoint)).CreateClient();
        await RemoveAsync(docker, Backend);
        await RemoveAsync(docker, Tools);
    }
}

[CollectionDefinition(Name)]
public sealed class BackendContainerCollection : ICollectionFixture<BackendContainerFixture>
{
    public const string Name = "backend-container";
}

[Collection(BackendContainerCollection.Name)]
public class BackendContainerTests(BackendContainerFixture app)
{
    private IDockerClient Docker => app.Host.Services.GetRequiredService<IDockerClient>();

    [Fact]
    public async Task the_backends_container_joins_the_project_network_at_3_reaches_the_vm_and_leaves_on_delete()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var project = await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready);
        project.FailureReason.ShouldBeNull();
        var subnet = Subnet.Parse(project.Subnet!);

        (await AddressOn(BackendContainerFixture.Backend, project.Network!)).ShouldBe(subnet.Backend);
        var host = app.Host.Services.GetRequiredService<IVmHost>();
        var (code, _) = await host.ExecAsync(BackendContainerFixture.Backend, ["ping", "-c", "1", "-W", "5", subnet.Vm], default);
        code.ShouldBe(0L);

        // The tools API's loop, in its container, joins at .1.
        var tools = new ContainerNetwork(
            new ProjectDirectory(app.Host.Services.GetRequiredService<IDocumentStore>(), new ToolsSettings(), TimeProvider.System), host,
            new ToolsSettings { Container = BackendContainerFixture.Tools }, NullLogger<ContainerNetwork>.Instance);
        await tools.ReconcileAsync(default);
        (await AddressOn(BackendContainerFixture.Tools, project.Network!)).ShouldBe(subnet.ToolsApi);
        await tools.ReconcileAsync(default); // a second round changes nothing
        (await AddressOn(BackendContainerFixture.Tools, project.Network!)).ShouldBe(subnet.ToolsApi);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project.Id}", token, status: 202);
        await app.Host.WaitUntilGone(token, project.Id);

        (await AddressOn(BackendContainerFixture.Backend, project.Network!)).ShouldBeNull();
        (await AddressOn(BackendContainerFixture.Tools, project.Network!)).ShouldBeNull();
        (await Docker.Networks.ListNetworksAsync()).ShouldNotContain(n => n.Name == project.Network);
        (await host.ListLabelledAsync(default)).ShouldNotContain(r => r.ProjectId == project.Id);
    }

    [Fact]
    public async Task connecting_twice_keeps_one_endpoint_at_the_same_address()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var project = await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready);
        project.FailureReason.ShouldBeNull();
        var subnet = Subnet.Parse(project.Subnet!);
        var host = app.Host.Services.GetRequiredService<IVmHost>();

        // A redelivered step runs again: the connection is reused, not doubled or moved.
        await host.ConnectContainerAsync(BackendContainerFixture.Backend, project.Network!, subnet.Backend, default);
        (await AddressOn(BackendContainerFixture.Backend, project.Network!)).ShouldBe(subnet.Backend);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project.Id}", token, status: 202);
        await app.Host.WaitUntilGone(token, project.Id);
        (await AddressOn(BackendContainerFixture.Backend, project.Network!)).ShouldBeNull();
    }

    private async Task<string?> AddressOn(string container, string network)
    {
        var inspected = await Docker.Containers.InspectContainerAsync(container);
        return inspected.NetworkSettings.Networks.TryGetValue(network, out var endpoint) ? endpoint.IPAddress : null;
    }
}
