using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Projects;

/// <summary>
/// The engine's events drive the wait for a VM (<c>VmEventWatcher</c>). Each host here polls the VM only every ten minutes,
/// so a project that is ready or failed within seconds got there by an event; and with the events off, the poll alone
/// still gets it there.
/// </summary>
[Collection(AppCollection.Name)]
public class VmEventTests
{
    private static Dictionary<string, string?> PollingEveryTenMinutes()
    {
        var settings = TestSettings.Base();
        settings["Vm:HealthPollMilliseconds"] = "600000";
        settings["Vm:BootTimeoutSeconds"] = "600";
        return settings;
    }

    [Fact]
    public async Task a_vm_is_ready_once_its_health_check_passes_without_waiting_for_the_poll()
    {
        await using var host = await AppFixture.StartAsync(PollingEveryTenMinutes());
        host.Services.GetServices<IHostedService>().OfType<VmEventWatcher>().ShouldHaveSingleItem();
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);

        var id = await host.Create(token);
        (await host.WaitFor(token, id, ProjectStatus.Ready, seconds: 45)).ReadyAt.ShouldNotBeNull();
        // The event is passed on as the step that began the wait: the audit shows VmBooted as the user's, in the same flow.
        await using (var session = host.Services.GetRequiredService<IDocumentStore>().QuerySession())
        {
            var events = await session.Events.FetchStreamAsync(id);
            events.ShouldAllBe(e => e.UserName == user);
            var booted = events.Single(e => e.Data is VmBooted);
            booted.CorrelationId.ShouldNotBeNull().ShouldBe(events.Single(e => e.Data is SharedFolderPrepared).CorrelationId);
        }

        // Stopped and started again: the start waits for health the same way.
        await host.Lifecycle(token, id, "stop");
        await host.WaitFor(token, id, ProjectStatus.Stopped, seconds: 45);
        await host.Lifecycle(token, id, "start");
        await host.WaitFor(token, id, ProjectStatus.Ready, seconds: 45);

        await host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await host.WaitUntilGone(token, id);
    }

    [Fact]
    public async Task a_vm_that_dies_while_booting_fails_the_project_at_once()
    {
        var settings = PollingEveryTenMinutes();
        settings["Vm:Image"] = "pantheon/test-vm-unhealthy:latest"; // never healthy: only its death can end the wait
        settings["Vm:Command:0"] = "/bin/sh";
        settings["Vm:Command:1"] = "-c";
        settings["Vm:Command:2"] = "sleep 2; exit 3";
        await using var host = await AppFixture.StartAsync(settings);
        var token = TestSettings.TokenFor(TestSettings.NewUser());

        var id = await host.Create(token);
        var project = await host.WaitFor(token, id, ProjectStatus.Failed, seconds: 45);
        project.FailureReason!.ShouldContain("The VM container stopped while booting");

        await host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await host.WaitUntilGone(token, id);
    }

    [Fact]
    public async Task with_the_engines_events_off_the_poll_alone_finds_the_vm_ready()
    {
        var settings = TestSettings.Base();
        settings["Vm:EngineEvents"] = "false";
        await using var host = await AppFixture.StartAsync(settings);
        host.Services.GetServices<IHostedService>().OfType<VmEventWatcher>().ShouldBeEmpty();
        var token = TestSettings.TokenFor(TestSettings.NewUser());

        var id = await host.Create(token);
        await host.WaitFor(token, id, ProjectStatus.Ready, seconds: 45);

        await host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await host.WaitUntilGone(token, id);
    }
}
