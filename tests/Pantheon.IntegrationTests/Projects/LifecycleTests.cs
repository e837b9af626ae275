using System.Text.Json;
using Docker.DotNet;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Live;
using Pantheon.Projections.Projects;

namespace Pantheon.IntegrationTests.Projects;

[Collection(AppCollection.Name)]
public class LifecycleTests(AppFixture app)
{
    private IDockerClient Docker => app.Host.Services.GetRequiredService<IDockerClient>();
    private IVmHost VmHost => app.Host.Services.GetRequiredService<IVmHost>();

    private async Task<string> Exec(Guid id, string script)
    {
        var (exit, output) = await VmHost.ExecAsync(ProjectProvisioning.VmContainerName(id), ["sh", "-c", script], default);
        exit.ShouldBe(0, output);
        return output.Trim();
    }

    private async Task<bool> VmRunning(Guid id) =>
        (await Docker.Containers.InspectContainerAsync(ProjectProvisioning.VmContainerName(id))).State.Running;

    private async Task<List<object>> EventsOf(Guid id)
    {
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return (await session.Events.FetchStreamAsync(id)).Select(e => e.Data).ToList();
    }

    [Fact]
    public async Task stop_start_and_restart_through_the_api_keep_a_file_in_storage_and_reach_live_subscribers()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = (await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready)).Id;
        await using var live = await (await LiveClient.ConnectAsync(app.Host, token)).Subscribe();
        var written = Guid.NewGuid().ToString();
        await Exec(id, $"echo {written} > /storage/kept.txt");

        (await app.Host.Lifecycle(token, id, "stop")).GetProperty("status").GetString().ShouldBe("stopping");
        var stopped = await app.Host.WaitFor(token, id, ProjectStatus.Stopped);
        stopped.StopReason.ShouldBe("owner");
        (await VmRunning(id)).ShouldBeFalse();
        (await live.UpdatesUntil(id, "stopped")).Select(u => u.GetProperty("status").GetString()).ShouldBe(["stopping", "stopped"]);
        // Stop keeps the volume (and the network and shared folder): the project still owns them.
        (await VmHost.ListLabelledAsync(default)).ShouldContain(r =>
            r.ProjectId == id && r.Name == ProjectProvisioning.StorageVolumeName(id));

        (await app.Host.Lifecycle(token, id, "start")).GetProperty("status").GetString().ShouldBe("starting");
        var started = await app.Host.WaitFor(token, id, ProjectStatus.Ready);
        started.StopReason.ShouldBeNull();
        (await live.UpdatesUntil(id, "ready")).Select(u => u.GetProperty("status").GetString()).ShouldBe(["starting", "ready"]);
        (await Exec(id, "cat /storage/kept.txt")).ShouldBe(written);

        (await app.Host.Lifecycle(token, id, "restart")).GetProperty("status").GetString().ShouldBe("stopping");
        (await live.UpdatesUntil(id, "ready")).Select(u => u.GetProperty("status").GetString())
            .ShouldBe(["stopping", "stopped", "starting", "ready"]);
        (await Exec(id, "cat /storage/kept.txt")).ShouldBe(written);

        var events = await EventsOf(id);
        events.OfType<VmStopped>().Select(e => e.Reason).ShouldBe(["owner", "restart"]);
        events.OfType<VmStarted>().Count().ShouldBe(2);
    }

    [Fact]
    public async Task an_illegal_transition_is_a_409_naming_the_status()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = (await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready)).Id;

        var problem = await app.Host.Lifecycle(token, id, "start", status: 409);
        problem.GetProperty("status").GetInt32().ShouldBe(409); // RFC 7807's status stays the HTTP status
        problem.GetProperty("project_status").GetString().ShouldBe("ready");
        problem.GetProperty("detail").GetString()!.ShouldContain("ready");

        await app.Host.Lifecycle(token, id, "stop");
        await app.Host.WaitFor(token, id, ProjectStatus.Stopped);
        (await app.Host.Lifecycle(token, id, "stop", status: 409)).GetProperty("project_status").GetString().ShouldBe("stopped");

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        var afterDelete = await app.Host.Lifecycle(token, id, "restart", status: 409);
        afterDelete.GetProperty("project_status").GetString().ShouldBe("deleting");
        await app.Host.WaitUntilGone(token, id);
        await app.Host.Lifecycle(token, id, "start", status: 404);
    }

    [Fact]
    public async Task another_users_project_is_a_404_and_the_operator_routes_need_the_admin_role()
    {
        var owner = TestSettings.TokenFor(TestSettings.NewUser());
        var id = (await app.Host.WaitFor(owner, await app.Host.Create(owner), ProjectStatus.Ready)).Id;
        var stranger = TestSettings.TokenFor(TestSettings.NewUser());
        var operatorToken = TestSettings.TokenFor(TestSettings.NewUser("ops"), roles: "pantheon-admin");

        await app.Host.Lifecycle(stranger, id, "stop", status: 404);
        await app.Host.Lifecycle(stranger, id, "stop", status: 403, admin: true);
        await app.Host.Lifecycle(operatorToken, Guid.NewGuid(), "stop", status: 404, admin: true);

        (await app.Host.Lifecycle(operatorToken, id, "stop", admin: true)).GetProperty("status").GetString().ShouldBe("stopping");
        (await app.Host.WaitFor(owner, id, ProjectStatus.Stopped)).StopReason.ShouldBe("operator");
        (await app.Host.Lifecycle(operatorToken, id, "start", admin: true)).GetProperty("status").GetString().ShouldBe("starting");
        await app.Host.WaitFor(owner, id, ProjectStatus.Ready);
        (await app.Host.Lifecycle(operatorToken, id, "restart", admin: true)).GetProperty("status").GetString().ShouldBe("stopping");
        await Eventually.Get(() => EventsOf(id), e =>
            e.OfType<VmStarted>().Count() == 2, TimeSpan.FromSeconds(60), "the restart to finish");
        (await EventsOf(id)).OfType<VmStartRequested>().Last().Reason.ShouldBe("operator");
    }

    [Fact]
    public async Task a_chat_about_a_stopped_project_starts_it_and_counts_as_activity()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = (await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready)).Id;
        await app.Host.Lifecycle(token, id, "stop");
        await app.Host.WaitFor(token, id, ProjectStatus.Stopped);

        var result = await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hello", project_id = id }, status: 202);
        var body = await result.ReadAsJsonAsync<JsonElement>();
        body.GetProperty("status").GetString().ShouldBe("starting");
        body.GetProperty("id").GetGuid().ShouldBe(id);
        await app.Host.WaitFor(token, id, ProjectStatus.Ready);
        (await EventsOf(id)).OfType<VmStartRequested>().ShouldHaveSingleItem().Reason.ShouldBe(LifecycleReasons.OnDemand);

        var activity = app.Host.Services.GetRequiredService<ProjectActivity>();
        await activity.FlushAsync(default);
        (await activity.LastActiveAsync([id], default)).ShouldContainKey(id);

        // Another user's project is not theirs to start.
        var stranger = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.Send(HttpMethod.Post, "/api/chat", stranger, new { message = "hello", project_id = id }, status: 404);
    }

    [Fact]
    public async Task a_restart_of_a_failed_project_provisions_it_again()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var settings = TestSettings.Base();
        settings["Vm:Image"] = "pantheon/test-vm-unhealthy:latest";
        settings["Vm:BootTimeoutSeconds"] = "3";
        Guid id;
        await using (var failing = await AppFixture.StartAsync(settings))
        {
            id = await failing.Create(token);
            (await failing.WaitFor(token, id, ProjectStatus.Failed)).FailedStep.ShouldBe("wait-for-vm");
        }

        (await app.Host.Lifecycle(token, id, "restart")).GetProperty("status").GetString().ShouldBe("requested");
        var ready = await app.Host.WaitFor(token, id, ProjectStatus.Ready);
        ready.FailureReason.ShouldBeNull();
        ready.Subnet.ShouldNotBeNull();
        (await EventsOf(id)).OfType<ProvisioningRetried>().ShouldHaveSingleItem();
    }

    [Fact]
    public async Task deleting_a_stopped_project_removes_its_storage_volume()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = (await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready)).Id;
        await app.Host.Lifecycle(token, id, "stop");
        await app.Host.WaitFor(token, id, ProjectStatus.Stopped);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await app.Host.WaitUntilGone(token, id);
        (await VmHost.ListLabelledAsync(default)).ShouldNotContain(r => r.ProjectId == id);
    }

    [Fact]
    public async Task the_reconciler_keeps_a_stopped_projects_vm_and_volume()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = (await app.Host.WaitFor(token, await app.Host.Create(token), ProjectStatus.Ready)).Id;
        await app.Host.Lifecycle(token, id, "stop");
        await app.Host.WaitFor(token, id, ProjectStatus.Stopped);

        await app.Host.Services.GetRequiredService<Wolverine.IMessageBus>().InvokeAsync(new ReconcileOrphans());

        (await VmHost.ListLabelledAsync(default)).Count(r => r.ProjectId == id).ShouldBe(4); // network, file server, VM, volume
    }

    [Fact]
    public async Task a_project_whose_stream_was_started_as_a_project_view_still_loads_for_writing()
    {
        var owner = TestSettings.NewUser();
        var token = TestSettings.TokenFor(owner);
        var id = Guid.CreateVersion7();
        await using (var session = app.Host.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            // As CreateProject wrote streams before the Project aggregate existed.
            session.Events.StartStream<ProjectView>(id, new ProjectRequested(id, owner, "old", ProjectOs.Windows11, DateTimeOffset.UtcNow));
            await session.SaveChangesAsync();
        }

        (await app.Host.Lifecycle(token, id, "stop", status: 409)).GetProperty("project_status").GetString().ShouldBe("requested");
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await app.Host.WaitUntilGone(token, id);
    }
}

/// <summary>A host that stops projects idle for 2 s, looking every second.</summary>
[Collection(AppCollection.Name)]
public class IdleStopTests(AppFixture app)
{
    [Fact]
    public async Task a_project_left_idle_is_stopped_with_an_event_that_says_why()
    {
        var settings = TestSettings.Base();
        settings["Projects:IdleStopSeconds"] = "2";
        settings["Projects:IdleCheckSeconds"] = "1";
        await using var host = await AppFixture.StartAsync(settings);
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = await host.Create(token);

        var stopped = await host.WaitFor(token, id, ProjectStatus.Stopped);
        stopped.StopReason.ShouldBe(LifecycleReasons.Idle);
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var events = (await session.Events.FetchStreamAsync(id)).Select(e => e.Data).ToList();
        events.OfType<VmStopRequested>().ShouldHaveSingleItem().Reason.ShouldBe(LifecycleReasons.Idle);
        events.OfType<VmStopped>().ShouldHaveSingleItem().Reason.ShouldBe(LifecycleReasons.Idle);

        await host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await host.WaitUntilGone(token, id);
    }
}
