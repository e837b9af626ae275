using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Projects;

[Collection(AppCollection.Name)]
public class ContainerHardeningTests(AppFixture app)
{
    private IDockerClient Docker => app.Host.Services.GetRequiredService<IDockerClient>();

    [Fact]
    public async Task the_vm_and_file_server_run_with_limits_and_the_file_server_unprivileged_on_a_read_only_root()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var project = await app.Host.WaitFor(token, await app.Host.Create(token, "hardened"), ProjectStatus.Ready);
        project.FailureReason.ShouldBeNull();

        var projectSettings = new ProjectSettings();
        var files = await Docker.Containers.InspectContainerAsync($"pantheon-{project.Id:N}-files");
        files.Config.User.ShouldBe(projectSettings.FileServerUser);
        files.HostConfig.CapDrop.ShouldBe(["ALL"]);
        (files.HostConfig.CapAdd ?? []).ShouldBeEmpty();
        files.HostConfig.ReadonlyRootfs.ShouldBeTrue();
        files.HostConfig.Privileged.ShouldBeFalse();
        files.HostConfig.SecurityOpt.ShouldContain("no-new-privileges:true");
        files.HostConfig.Memory.ShouldBe(projectSettings.FileServerMemoryBytes);
        files.HostConfig.CPUPeriod.ShouldBe(DockerVmHost.CpuPeriodMicroseconds);
        files.HostConfig.CPUQuota.ShouldBe((long)(projectSettings.FileServerCpus * DockerVmHost.CpuPeriodMicroseconds));
        files.HostConfig.PidsLimit.ShouldBe(projectSettings.FileServerPidsLimit);

        var vmSettings = new VmSettings();
        var vm = await Docker.Containers.InspectContainerAsync(ProjectProvisioning.VmContainerName(project.Id));
        vm.HostConfig.SecurityOpt.ShouldContain("no-new-privileges:true");
        vm.HostConfig.Memory.ShouldBe(vmSettings.MemoryBytes!.Value);
        vm.HostConfig.CPUPeriod.ShouldBe(DockerVmHost.CpuPeriodMicroseconds);
        vm.HostConfig.CPUQuota.ShouldBe((long)(vmSettings.Cpus!.Value * DockerVmHost.CpuPeriodMicroseconds));
        vm.HostConfig.PidsLimit.ShouldBe(vmSettings.PidsLimit);

        // Unprivileged, it still serves the shared folder: the VM reads .env through it.
        var (exit, env) = await app.Host.Services.GetRequiredService<IVmHost>().ExecAsync(ProjectProvisioning.VmContainerName(project.Id),
            ["wget", "-qO-", $"{project.SharedFolderUrl}.env"], default);
        exit.ShouldBe(0, env);
        env.ShouldContain($"PROJECT_ID={project.Id}");

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project.Id}", token, status: 202);
        await app.Host.WaitUntilGone(token, project.Id);
    }
}
