using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Projects;

[Collection(AppCollection.Name)]
public class ProvisioningTests(AppFixture app)
{
    private IDockerClient Docker => app.Host.Services.GetRequiredService<IDockerClient>();
    private IVmHost Host => app.Host.Services.GetRequiredService<IVmHost>();

    [Fact]
    public async Task a_created_project_gets_its_network_shared_folder_and_vm()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = await app.Host.Create(token);
        var project = await app.Host.WaitFor(token, id, ProjectStatus.Ready);
        project.FailureReason.ShouldBeNull();

        var subnet = Subnet.Parse(project.Subnet!);
        project.Network.ShouldBe($"project-{id}-network");
        project.VmAddress.ShouldBe(subnet.Vm);
        project.ToolsApiUrl.ShouldBe($"http://{subnet.ToolsApi}:8090");
        project.SharedFolderUrl.ShouldBe($"http://{subnet.SharedFolder}:8888/");
        project.SharedFolderPath.ShouldBe(Path.Combine(TestSettings.DataRoot, "windows-vm-files", id.ToString()));
        // Docker publishes no host ports for a container that is only on an internal network, so there is no viewer port here.
        project.ViewerPort.ShouldBeNull();

        var network = await Docker.Networks.InspectNetworkAsync(project.Network);
        network.Internal.ShouldBeTrue();
        network.IPAM.Config.ShouldHaveSingleItem().Subnet.ShouldBe(project.Subnet);
        network.IPAM.Config[0].Gateway.ShouldBe(subnet.Gateway);
        network.Labels[PantheonLabels.ProjectId].ShouldBe(id.ToString());

        var containers = await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{PantheonLabels.ProjectId}={id}"] = true } },
        });
        containers.Count.ShouldBe(2);
        containers.ShouldAllBe(c => c.State == "running");
        var vm = containers.Single(c => c.Labels[PantheonLabels.Role] == "vm");
        vm.NetworkSettings.Networks[project.Network].IPAddress.ShouldBe(subnet.Vm);
        containers.Single(c => c.Labels[PantheonLabels.Role] == "shared-folder").NetworkSettings.Networks[project.Network].IPAddress.ShouldBe(subnet.SharedFolder);
    }

    [Fact]
    public async Task the_vm_fetches_its_env_from_the_shared_folder_server_with_a_secret_of_its_own()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var first = await app.Host.WaitFor(token, await app.Host.Create(token, "first"), ProjectStatus.Ready);
        var second = await app.Host.WaitFor(token, await app.Host.Create(token, "second"), ProjectStatus.Ready);

        var firstEnv = await FetchEnvFromInsideTheVm(first);
        var secondEnv = await FetchEnvFromInsideTheVm(second);
        firstEnv["PROJECT_ID"].ShouldBe(first.Id.ToString());
        firstEnv["MCP_TOOLS_API_URL"].ShouldBe(first.ToolsApiUrl);
        firstEnv["MCP_PROJECT_SECRET"].Length.ShouldBe(64);
        firstEnv["MCP_PROJECT_SECRET"].ShouldNotBe(secondEnv["MCP_PROJECT_SECRET"]);
        firstEnv.Values.ShouldNotContain(TestSettings.MasterSecret);
    }

    [Fact]
    public async Task deleting_a_project_removes_its_containers_network_and_folder_and_frees_its_subnet()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var project = await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project.Id}", token, status: 202);
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project.Id}", token, status: 202);
        await app.Host.WaitUntilGone(token, project.Id);

        (await Host.ListLabelledAsync(default)).ShouldNotContain(r => r.ProjectId == project.Id);
        Directory.Exists(project.SharedFolderPath).ShouldBeFalse();
        (await app.Host.List(token)).ShouldNotContain(p => p.Id == project.Id);
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project.Id}", token, status: 404);

        var next = await app.Host.WaitFor(token, await app.Host.Create(token, "next"), ProjectStatus.Ready);
        next.Subnet.ShouldBe(project.Subnet);
    }

    [Fact]
    public async Task deleting_while_provisioning_leaves_nothing_behind()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = await app.Host.Create(token);
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await app.Host.WaitUntilGone(token, id);

        // Steps already in flight may still run; each must notice the deletion and clean up after itself.
        await Eventually.Get(() => Host.ListLabelledAsync(default), r => r.All(x => x.ProjectId != id), TimeSpan.FromSeconds(30), "no resource of the project");
        Directory.Exists(Path.Combine(TestSettings.DataRoot, "windows-vm-files", id.ToString())).ShouldBeFalse();
    }

    [Fact]
    public async Task another_user_can_neither_read_list_nor_delete_a_project()
    {
        var alice = TestSettings.TokenFor(TestSettings.NewUser("alice"));
        var bob = TestSettings.TokenFor(TestSettings.NewUser("bob"));
        var id = await app.Host.Create(alice);

        await app.Host.Send(HttpMethod.Get, $"/api/projects/{id}", bob, status: 404);
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", bob, status: 404);
        (await app.Host.List(bob)).ShouldBeEmpty();
        (await app.Host.List(alice)).ShouldHaveSingleItem().Id.ShouldBe(id);
        await app.Host.WaitFor(alice, id, ProjectStatus.Ready);
    }

    public static TheoryData<string, string> InvalidProjects() => new()
    {
        { """{"name":""}""", "name" },
        { """{"name":"bad/name"}""", "name" },
        { "{\"name\":\"" + new string('p', 65) + "\"}", "name" },
        { """{"name":"ok","os":"macos"}""", "os" },
    };

    [Theory]
    [MemberData(nameof(InvalidProjects))]
    public async Task invalid_projects_are_a_400_and_create_nothing(string body, string field)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.ShouldRejectField(HttpMethod.Post, "/api/projects", token, body, field);
        (await app.Host.List(token)).ShouldBeEmpty();
    }

    private async Task<Dictionary<string, string>> FetchEnvFromInsideTheVm(Pantheon.Web.Projects.ProjectResponse project)
    {
        var (exit, output) = await Host.ExecAsync(ProjectProvisioning.VmContainerName(project.Id), ["wget", "-qO-", $"{project.SharedFolderUrl}.env"], default);
        exit.ShouldBe(0, output);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
    }
}
