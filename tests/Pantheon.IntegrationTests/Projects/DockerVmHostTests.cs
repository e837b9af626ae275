using System.Diagnostics;
using System.Net.Sockets;
using Docker.DotNet;
using ContainersListParameters = Docker.DotNet.Models.ContainersListParameters;
using Microsoft.Extensions.Logging.Abstractions;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Projects;

namespace Pantheon.IntegrationTests.Projects;

/// <summary>Drives the real engine; each test owns one project id, and everything labelled with it is removed afterwards.</summary>
public sealed class DockerVmHostTests : IAsyncLifetime
{
    private const string TestVm = "pantheon/test-vm:latest";
    private static readonly string Endpoint = Environment.GetEnvironmentVariable("Docker__Endpoint") ?? "unix:///var/run/docker.sock";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly DockerClient docker = new DockerClientConfiguration(new Uri(Endpoint)).CreateClient();
    private readonly Guid projectId = Guid.NewGuid();
    private readonly List<DirectoryInfo> tempDirs = [];
    private readonly DockerVmHost host;

    public DockerVmHostTests() =>
        host = new DockerVmHost(docker, new DockerSettings { Endpoint = Endpoint }, NullLogger<DockerVmHost>.Instance);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            await host.RemoveProjectAsync(projectId, CancellationToken.None);
        }
        finally
        {
            foreach (var dir in tempDirs)
                dir.Delete(recursive: true);
            docker.Dispose();
        }
    }

    [Fact]
    public async Task ensuring_a_network_creates_one_internal_network_with_the_subnet_gateway_and_labels()
    {
        var spec = await CreateNetworkAsync();

        var again = await host.EnsureNetworkAsync(spec.Spec, CancellationToken.None);

        again.ShouldBe(spec.Id);
        var network = await docker.Networks.InspectNetworkAsync(spec.Id);
        network.Name.ShouldBe(spec.Spec.Name);
        network.Driver.ShouldBe("bridge");
        network.Internal.ShouldBeTrue();
        network.IPAM.Config.ShouldHaveSingleItem().Subnet.ShouldBe(spec.Spec.Subnet);
        network.IPAM.Config[0].Gateway.ShouldBe(spec.Spec.Gateway);
        network.Labels[PantheonLabels.ProjectId].ShouldBe(projectId.ToString("D"));
        network.Labels[PantheonLabels.Role].ShouldBe("network");
    }

    [Fact]
    public async Task a_network_of_that_name_belonging_to_another_project_is_a_permanent_failure()
    {
        var (spec, _) = await CreateNetworkAsync();

        var error = await Should.ThrowAsync<VmHostException>(() =>
            host.EnsureNetworkAsync(spec with { ProjectId = Guid.NewGuid() }, CancellationToken.None));

        error.Transient.ShouldBeFalse();
    }

    [Fact]
    public async Task a_container_at_a_fixed_address_becomes_healthy()
    {
        var (network, _) = await CreateNetworkAsync();
        var spec = Container(network, "vm", TestVm, ".10");

        var id = await host.EnsureContainerStartedAsync(spec, CancellationToken.None);

        var state = await WaitForAsync(spec.Name, s => s.Health == ContainerHealth.Healthy);
        state.Health.ShouldBe(ContainerHealth.Healthy, state.Detail);
        state.Id.ShouldBe(id);
        var container = await docker.Containers.InspectContainerAsync(id);
        container.NetworkSettings.Networks[network.Name].IPAddress.ShouldBe(spec.IpAddress);
        container.Config.Labels[PantheonLabels.ProjectId].ShouldBe(projectId.ToString("D"));
        container.Config.Labels[PantheonLabels.Role].ShouldBe("vm");
    }

    [Fact]
    public async Task ensuring_a_started_container_twice_keeps_one_container()
    {
        var (network, _) = await CreateNetworkAsync();
        var spec = Container(network, "vm", TestVm, ".10");

        var first = await host.EnsureContainerStartedAsync(spec, CancellationToken.None);
        var second = await host.EnsureContainerStartedAsync(spec, CancellationToken.None);

        second.ShouldBe(first);
        var named = await docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [spec.Name] = true } },
        });
        named.ShouldHaveSingleItem().ID.ShouldBe(first);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ensuring_a_stopped_container_starts_the_same_one_whether_it_is_looked_up_first_or_not(bool likelyExists)
    {
        var (network, _) = await CreateNetworkAsync();
        var spec = Container(network, "vm", TestVm, ".10") with { Volumes = [$"pt-test-{Guid.NewGuid():N}:/storage"] };
        var first = await host.EnsureContainerStartedAsync(spec, CancellationToken.None);
        await host.StopContainerAsync(first, TimeSpan.FromSeconds(1), CancellationToken.None);

        var again = await host.EnsureContainerStartedAsync(spec with { LikelyExists = likelyExists }, CancellationToken.None);

        again.ShouldBe(first);
        (await docker.Containers.InspectContainerAsync(first)).State.Running.ShouldBeTrue();
    }

    [Fact]
    public async Task a_container_of_that_name_belonging_to_another_project_is_a_permanent_failure_and_left_alone()
    {
        var (network, _) = await CreateNetworkAsync();
        var spec = Container(network, "vm", TestVm, ".10");
        var other = Guid.NewGuid();
        var theirs = await docker.Containers.CreateContainerAsync(new Docker.DotNet.Models.CreateContainerParameters
        {
            Name = spec.Name, Image = TestVm, Labels = new Dictionary<string, string> { [PantheonLabels.ProjectId] = other.ToString("D") },
        });
        try
        {
            var error = await Should.ThrowAsync<VmHostException>(() => host.EnsureContainerStartedAsync(spec, CancellationToken.None));

            error.Transient.ShouldBeFalse();
            error.Message.ShouldContain(projectId.ToString("D"));
            var container = await docker.Containers.InspectContainerAsync(theirs.ID);
            container.State.Running.ShouldBeFalse();
            container.Config.Labels[PantheonLabels.ProjectId].ShouldBe(other.ToString("D"));
        }
        finally
        {
            await docker.Containers.RemoveContainerAsync(theirs.ID, new Docker.DotNet.Models.ContainerRemoveParameters { Force = true });
        }
    }

    [Fact]
    public async Task a_volume_of_that_name_belonging_to_another_project_is_a_permanent_failure_and_no_container_is_made()
    {
        var (network, _) = await CreateNetworkAsync();
        var volume = $"pt-test-{Guid.NewGuid():N}";
        var spec = Container(network, "vm", TestVm, ".10") with { Volumes = [$"{volume}:/storage"] };
        var other = Guid.NewGuid();
        await docker.Volumes.CreateAsync(new Docker.DotNet.Models.VolumesCreateParameters
        {
            Name = volume, Labels = new Dictionary<string, string> { [PantheonLabels.ProjectId] = other.ToString("D") },
        });
        try
        {
            var error = await Should.ThrowAsync<VmHostException>(() => host.EnsureContainerStartedAsync(spec, CancellationToken.None));

            error.Transient.ShouldBeFalse();
            error.Message.ShouldContain($"volume named {volume}");
            (await docker.Volumes.InspectAsync(volume)).Labels[PantheonLabels.ProjectId].ShouldBe(other.ToString("D"));
            var named = await docker.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [spec.Name] = true } },
            });
            named.ShouldBeEmpty();
        }
        finally
        {
            await docker.Volumes.RemoveAsync(volume, force: true);
        }
    }

    [Fact]
    public async Task an_image_whose_health_check_fails_reports_unhealthy()
    {
        var (network, _) = await CreateNetworkAsync();
        var spec = Container(network, "vm", "pantheon/test-vm-unhealthy:latest", ".10");

        await host.EnsureContainerStartedAsync(spec, CancellationToken.None);

        var state = await WaitForAsync(spec.Name, s => s.Health == ContainerHealth.Unhealthy);
        state.Health.ShouldBe(ContainerHealth.Unhealthy, state.Detail);
    }

    [Fact]
    public async Task a_missing_image_is_a_permanent_failure_in_the_engines_words()
    {
        var (network, _) = await CreateNetworkAsync();
        var spec = Container(network, "vm", "pantheon/does-not-exist:latest", ".10");

        var error = await Should.ThrowAsync<VmHostException>(() => host.EnsureContainerStartedAsync(spec, CancellationToken.None));

        error.Transient.ShouldBeFalse();
        error.Message.ShouldContain("No such image");
    }

    [Fact]
    public async Task the_file_server_serves_its_read_only_folder_to_the_project_network()
    {
        var (network, _) = await CreateNetworkAsync();
        var folder = TempFolder(".env", "ANSWER=42\n");
        var server = Container(network, "file-server", "pantheon/file-server:latest", ".20") with { Binds = [$"{folder}:/srv:ro"] };
        var vm = Container(network, "vm", TestVm, ".10");
        await host.EnsureContainerStartedAsync(server, CancellationToken.None);
        await host.EnsureContainerStartedAsync(vm, CancellationToken.None);

        // httpd may not be listening the moment its container runs.
        var stopwatch = Stopwatch.StartNew();
        (long ExitCode, string Output) fetched;
        do
        {
            fetched = await host.ExecAsync(vm.Name, ["wget", "-qO-", $"http://{server.IpAddress}:8888/.env"], CancellationToken.None);
            if (fetched.ExitCode == 0)
                break;
            await Task.Delay(200);
        } while (stopwatch.Elapsed < Deadline);

        fetched.ExitCode.ShouldBe(0);
        fetched.Output.ShouldBe("ANSWER=42\n");
        var write = await host.ExecAsync(server.Name, ["touch", "/srv/written"], CancellationToken.None);
        write.ExitCode.ShouldNotBe(0);
    }

    [Fact]
    public async Task removing_a_project_leaves_nothing_labelled_with_it()
    {
        var (network, _) = await CreateNetworkAsync();
        var volume = $"pt-test-{Guid.NewGuid():N}";
        var spec = Container(network, "workspace", "pantheon/busybox:latest", ".30") with
        {
            Command = ["sleep", "3600"],
            Volumes = [$"{volume}:/data"],
            StopGracePeriod = TimeSpan.FromSeconds(1),
        };
        await host.EnsureContainerStartedAsync(spec, CancellationToken.None);
        (await WaitForAsync(spec.Name, s => s.Health == ContainerHealth.Running)).Health.ShouldBe(ContainerHealth.Running);
        var before = (await host.ListLabelledAsync(CancellationToken.None)).Where(r => r.ProjectId == projectId).ToList();
        before.Select(r => (r.Kind, r.Name, r.Role)).OrderBy(r => r.Kind).ShouldBe([
            ("container", spec.Name, "workspace"),
            ("network", network.Name, "network"),
            ("volume", volume, "workspace"),
        ]);

        await host.RemoveProjectAsync(projectId, CancellationToken.None);
        await host.RemoveProjectAsync(projectId, CancellationToken.None);

        (await host.ListLabelledAsync(CancellationToken.None)).ShouldNotContain(r => r.ProjectId == projectId);
        (await host.InspectAsync(spec.Name, CancellationToken.None)).Health.ShouldBe(ContainerHealth.Missing);
        foreach (var resource in before)
            await host.RemoveAsync(resource, CancellationToken.None);
    }

    [Fact]
    public async Task an_engine_that_is_not_there_is_a_transient_failure_reported_quickly()
    {
        const string nowhere = "unix:///tmp/nope.sock";
        var settings = new DockerSettings { Endpoint = nowhere, TimeoutSeconds = 10 };
        using var client = new DockerClientConfiguration(new Uri(nowhere), defaultTimeout: TimeSpan.FromSeconds(settings.TimeoutSeconds)).CreateClient();
        var absent = new DockerVmHost(client, settings, NullLogger<DockerVmHost>.Instance);
        var stopwatch = Stopwatch.StartNew();

        var error = await Should.ThrowAsync<VmHostException>(() => absent.UsedSubnetsAsync(CancellationToken.None));

        stopwatch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        error.Transient.ShouldBeTrue();
        error.Message.ShouldStartWith($"Docker engine at {nowhere} did not answer");
    }

    [Fact]
    public async Task an_engine_that_accepts_but_never_answers_is_a_transient_failure_after_the_timeout()
    {
        var socketPath = Path.Combine(Path.GetTempPath(), $"pt-test-{Guid.NewGuid():N}.sock");
        using var silent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        silent.Bind(new UnixDomainSocketEndPoint(socketPath));
        silent.Listen();
        try
        {
            var endpoint = $"unix://{socketPath}";
            var settings = new DockerSettings { Endpoint = endpoint, TimeoutSeconds = 2 };
            using var client = new DockerClientConfiguration(new Uri(endpoint), defaultTimeout: TimeSpan.FromSeconds(settings.TimeoutSeconds)).CreateClient();
            var mute = new DockerVmHost(client, settings, NullLogger<DockerVmHost>.Instance);
            var stopwatch = Stopwatch.StartNew();

            var error = await Should.ThrowAsync<VmHostException>(() => mute.ExecAsync("anything", ["true"], CancellationToken.None));

            stopwatch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(settings.TimeoutSeconds + 3));
            error.Transient.ShouldBeTrue();
            error.Message.ShouldStartWith($"Docker engine at {endpoint} did not answer");
        }
        finally
        {
            File.Delete(socketPath);
        }
    }

    /// <summary>A fresh /24 in 172.30.200-250 that no network on the engine uses yet.</summary>
    private async Task<(ProjectNetworkSpec Spec, string Id)> CreateNetworkAsync()
    {
        var used = await host.UsedSubnetsAsync(CancellationToken.None);
        var free = Enumerable.Range(200, 51).Select(i => $"172.30.{i}").Where(p => !used.Contains($"{p}.0/24")).OrderBy(_ => Random.Shared.Next());
        foreach (var prefix in free.Take(5))
        {
            var spec = new ProjectNetworkSpec(projectId, $"pt-test-{Guid.NewGuid():N}", $"{prefix}.0/24", $"{prefix}.254");
            try
            {
                return (spec, await host.EnsureNetworkAsync(spec, CancellationToken.None));
            }
            catch (VmHostException e) when (e.Message.Contains("overlap", StringComparison.OrdinalIgnoreCase))
            {
                // Another run took the subnet since we looked: try the next.
            }
        }
        throw new InvalidOperationException("No free subnet in 172.30.200-250.0/24.");
    }

    private ContainerSpec Container(ProjectNetworkSpec network, string role, string image, string hostPart) =>
        new(projectId, role, $"pt-test-{Guid.NewGuid():N}", image, network.Name, network.Subnet.Replace(".0/24", hostPart));

    private async Task<ContainerState> WaitForAsync(string name, Func<ContainerState, bool> reached)
    {
        var stopwatch = Stopwatch.StartNew();
        var state = await host.InspectAsync(name, CancellationToken.None);
        while (!reached(state) && stopwatch.Elapsed < Deadline)
        {
            await Task.Delay(200);
            state = await host.InspectAsync(name, CancellationToken.None);
        }
        return state;
    }

    private string TempFolder(string file, string content)
    {
        var dir = Directory.CreateTempSubdirectory("pt-test-");
        tempDirs.Add(dir);
        var path = Path.Combine(dir.FullName, file);
        File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows())
        {
            // The engine mounts it as is: readable whoever the server runs as (temp folders start as 700).
            File.SetUnixFileMode(dir.FullName, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(path, (UnixFileMode)0b110_100_100);
        }
        return dir.FullName;
    }
}
