using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Tools;

/// <summary>The tools API and the backend as a VM sees them, from inside the desktop VM's container (curl).</summary>
[Collection(ToolsCollection.Name)]
public class VmNetworkTests(ToolsFixture tools)
{
    private const string ToolsList = """{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}""";

    [Fact]
    public async Task from_inside_the_vm_the_env_url_and_secret_list_the_tools_and_another_projects_secret_is_refused()
    {
        var project = await tools.ProjectAsync(0);
        var other = await tools.ProjectAsync(1);
        var env = File.ReadAllLines(Path.Combine(project.Folder, ".env")).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        env["MCP_PROJECT_SECRET"].ShouldBe(project.Secret);
        // The .env names port 8090; this test's tools API listens on a port of its own, so that it never meets a running one.
        var url = env["MCP_TOOLS_API_URL"].Replace(":8090", $":{tools.Port}") + "/";
        url.ShouldBe($"http://{project.Subnet.ToolsApi}:{tools.Port}/");

        var listed = await Eventually.Get(() => Curl(project, url, env["MCP_PROJECT_SECRET"]), r => r.Status == "200",
            TimeSpan.FromSeconds(20), "the tools API at the project's .1");
        listed.Body.ShouldContain("\"screenshot\"");
        listed.Body.ShouldContain("\"list_files\"");

        (await Curl(project, url, other.Secret)).Status.ShouldBe("401");
        (await Curl(project, url, null)).Status.ShouldBe("401");
    }

    [Fact]
    public async Task the_backends_port_and_other_projects_tools_addresses_are_unreachable_from_the_vm()
    {
        var project = await tools.ProjectAsync(0);
        var other = await tools.ProjectAsync(1);
        // The backend in production listens on every address (0.0.0.0:3002): a listener like it on the host.
        using var backend = new TcpListener(IPAddress.Any, 0);
        backend.Start();
        var port = ((IPEndPoint)backend.LocalEndpoint).Port;
        var ownUrl = $"http://{project.Subnet.ToolsApi}:{tools.Port}/";
        await Eventually.Get(() => Curl(project, ownUrl, project.Secret), r => r.Status == "200", TimeSpan.FromSeconds(20), "own tools API");

        foreach (var address in new[] { project.Subnet.Gateway, project.Subnet.ToolsApi, other.Subnet.ToolsApi, other.Subnet.Gateway, HostAddress() })
            (await Curl(project, $"http://{address}:{port}/", null)).Status.ShouldBe("000", $"{address}:{port} answered from the VM");
        (await Curl(project, $"http://{other.Subnet.ToolsApi}:{tools.Port}/", other.Secret)).Status.ShouldBe("000");
        (await Curl(project, $"http://{project.Subnet.Gateway}:{tools.Port}/", project.Secret)).Status.ShouldBe("000");
        // What the VM may reach on its own network: its file server.
        (await Curl(project, $"http://{project.Subnet.SharedFolder}:8888/", null)).Status.ShouldNotBe("000");
    }

    /// <summary>
    /// What Docker alone does (the finding behind the firewall rules): a container on an <c>internal</c> network has no
    /// route out, yet reaches every address of the host itself through its bridge, such as a port bound to 0.0.0.0.
    /// </summary>
    [Fact]
    public async Task without_the_rules_a_container_on_an_internal_network_reaches_the_hosts_own_addresses()
    {
        await tools.ProjectAsync(0);
        var docker = tools.Host.Services.GetRequiredService<IDockerClient>();
        var name = $"pantheon-tools-finding-{Guid.NewGuid():N}"[..40];
        var subnet = "10.213.7.0/24";
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var network = await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = name, Driver = "bridge", Internal = true,
            IPAM = new IPAM { Config = [new IPAMConfig { Subnet = subnet, Gateway = "10.213.7.254" }] },
            Labels = new Dictionary<string, string> { [PantheonLabels.Instance] = TestSettings.Instance },
        });
        try
        {
            var container = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = "pantheon/test-desktop:latest", Name = name, Cmd = ["sleep", "60"],
                Labels = new Dictionary<string, string> { [PantheonLabels.Instance] = TestSettings.Instance },
                HostConfig = new HostConfig { NetworkMode = name },
            });
            try
            {
                await docker.Containers.StartContainerAsync(container.ID, new ContainerStartParameters());
                var vm = tools.Host.Services.GetRequiredService<IVmHost>();
                var accept = listener.AcceptTcpClientAsync();
                var (code, _) = await vm.ExecAsync(container.ID, ["curl", "-sS", "-m", "2", "-o", "/dev/null", $"http://10.213.7.254:{port}/"], default);
                (await Task.WhenAny(accept, Task.Delay(TimeSpan.FromSeconds(5)))).ShouldBe(accept, $"curl exited {code} without connecting");
                (await accept).Dispose();
            }
            finally
            {
                // With its volumes: the image's /storage, unnamed here, would stay behind as an anonymous volume.
                await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
            }
        }
        finally
        {
            await docker.Networks.DeleteNetworkAsync(network.ID);
        }
    }

    private async Task<(string Status, string Body)> Curl(DesktopProject project, string url, string? secret)
    {
        string[] command =
        [
            "curl", "-sS", "-m", "3", "-o", "/tmp/body", "-w", "%{http_code}", "-X", "POST", url,
            "-H", "Content-Type: application/json", "-H", "Accept: application/json, text/event-stream", "--data", ToolsList,
            .. secret is null ? Array.Empty<string>() : ["-H", $"Authorization: Bearer {secret}"],
        ];
        var (_, status) = await tools.InVmAsync(project, command);
        var (_, body) = await tools.InVmAsync(project, "sh", "-c", "cat /tmp/body 2>/dev/null; rm -f /tmp/body");
        return (status.Trim(), body);
    }

    private static string HostAddress() =>
        Dns.GetHostAddresses(Dns.GetHostName()).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?.ToString() ?? "127.0.0.1";
}
