using System.Text.Json;
using Pantheon.Domain.Projects;

namespace Pantheon.Domain.Tests.Projects;

public class ProjectDeciderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Id = Guid.Parse("0193a000-0000-7000-8000-000000000001");
    private static readonly Subnet Net = Subnet.Parse("172.30.4.0/24");

    /// <summary>The project rebuilt from <paramref name="events"/>, as Marten does.</summary>
    private static Project From(params object[] events)
    {
        var project = Project.Create((ProjectRequested)events[0]);
        foreach (var e in events.Skip(1)) ((dynamic)project).Apply((dynamic)e);
        return project;
    }

    private static readonly object[] Requested = [new ProjectRequested(Id, "alice", "p", ProjectOs.Windows11, Now)];
    private static readonly object[] Provisioning = [.. Requested, new NetworkAllocated(Id, Net, "n", "nid", Now)];
    private static readonly object[] Prepared = [.. Provisioning, new SharedFolderPrepared(Id, "/f", "s", Net.SharedFolder, Now)];
    private static readonly object[] Ready = [.. Prepared, new VmBooted(Id, "vm", Net.Vm, null, Now)];
    private static readonly object[] Failed = [.. Provisioning, new ProjectProvisioningFailed(Id, "boot-vm", "no", Now)];
    private static readonly object[] Stopping = [.. Ready, new VmStopRequested(Id, LifecycleReasons.Owner, Now)];
    private static readonly object[] Stopped = [.. Stopping, new VmStopped(Id, LifecycleReasons.Owner, Now)];
    private static readonly object[] Starting = [.. Stopped, new VmStartRequested(Id, LifecycleReasons.Owner, Now)];
    private static readonly object[] Deleting = [.. Ready, new ProjectDeletionRequested(Id, Now)];

    public static TheoryData<string> AllStatuses() =>
        ["requested", "provisioning", "ready", "failed", "stopping", "stopped", "starting", "deleting"];

    private static Project In(string status) => status switch
    {
        "requested" => From(Requested),
        "provisioning" => From(Prepared),
        "ready" => From(Ready),
        "failed" => From(Failed),
        "stopping" => From(Stopping),
        "stopped" => From(Stopped),
        "starting" => From(Starting),
        "deleting" => From(Deleting),
        _ => throw new ArgumentException(status),
    };

    [Theory, MemberData(nameof(AllStatuses))]
    public void every_built_status_is_the_one_named(string status) =>
        In(status).Status.ToString().ToLowerInvariant().ShouldBe(status);

    [Fact]
    public void a_request_starts_the_stream()
    {
        var e = ProjectDecider.Request(Id, "alice", "p", ProjectOs.Windows11, Now);
        Project.Create(e).Status.ShouldBe(ProjectStatus.Requested);
    }

    [Fact]
    public void allocation_moves_a_requested_project_to_provisioning_and_only_that()
    {
        var e = ProjectDecider.AllocateNetwork(From(Requested), Net, "n", "nid",
            Now).ShouldHaveSingleItem().ShouldBeOfType<NetworkAllocated>();
        e.Subnet.ShouldBe(Net);
        From([.. Requested, e]).Status.ShouldBe(ProjectStatus.Provisioning);
        ProjectDecider.AllocateNetwork(From(Provisioning), Net, "n", "nid", Now).ShouldBeEmpty();
        ProjectDecider.AllocateNetwork(From(Deleting), Net, "n", "nid", Now).ShouldBeEmpty();
    }

    [Fact]
    public void the_shared_folder_is_served_at_20_of_the_projects_subnet()
    {
        ProjectDecider.PrepareSharedFolder(From(Provisioning), "/f", "s", Now).ShouldHaveSingleItem()
            .ShouldBeOfType<SharedFolderPrepared>().ServerAddress.ShouldBe("172.30.4.20");
        ProjectDecider.PrepareSharedFolder(From(Requested), "/f", "s", Now).ShouldBeEmpty();
    }

    [Fact]
    public void a_healthy_vm_ends_provisioning_with_booted_and_a_start_with_started()
    {
        ProjectDecider.VmHealthy(From(Prepared), "vm", 8006, Now).ShouldHaveSingleItem().ShouldBe(new VmBooted(Id, "vm", "172.30.4.2",
            8006, Now));
        var started = ProjectDecider.VmHealthy(From(Starting), "vm2", null, Now).ShouldHaveSingleItem().ShouldBeOfType<VmStarted>();
        From([.. Starting, started]).Status.ShouldBe(ProjectStatus.Ready);
        ProjectDecider.VmHealthy(From(Ready), "vm", null, Now).ShouldBeEmpty();
        ProjectDecider.VmHealthy(From(Stopping), "vm", null, Now).ShouldBeEmpty();
    }

    [Fact]
    public void provisioning_fails_only_while_provisioning()
    {
        ProjectDecider.FailProvisioning(From(Requested), "allocate-network", "x",
            Now).ShouldHaveSingleItem().ShouldBeOfType<ProjectProvisioningFailed>();
        ProjectDecider.FailProvisioning(From(Prepared), "boot-vm", "x", Now).ShouldHaveSingleItem();
        ProjectDecider.FailProvisioning(From(Ready), "boot-vm", "x", Now).ShouldBeEmpty();
        var failed = From(Failed);
        failed.Status.ShouldBe(ProjectStatus.Failed);
        failed.Subnet.ShouldBeNull();
    }

    [Theory, MemberData(nameof(AllStatuses))]
    public void only_a_ready_vm_stops(string status)
    {
        var decision = ProjectDecider.Stop(In(status), LifecycleReasons.Owner, Now);
        if (status == "ready")
        {
            decision.Events.ShouldHaveSingleItem().ShouldBe(new VmStopRequested(Id, LifecycleReasons.Owner, Now));
            ProjectStatuses.After(decision.Events, ProjectStatus.Ready).ShouldBe(ProjectStatus.Stopping);
        }
        else
        {
            decision.RefusedIn.ShouldBe(In(status).Status);
            decision.Events.ShouldBeEmpty();
        }
    }

    [Theory, MemberData(nameof(AllStatuses))]
    public void only_a_stopped_vm_starts(string status)
    {
        var decision = ProjectDecider.Start(In(status), LifecycleReasons.Operator, Now);
        if (status == "stopped")
            decision.Events.ShouldHaveSingleItem().ShouldBe(new VmStartRequested(Id, LifecycleReasons.Operator, Now));
        else
            decision.RefusedIn.ShouldBe(In(status).Status);
    }

    [Theory, MemberData(nameof(AllStatuses))]
    public void restart_stops_and_starts_a_ready_vm_starts_a_stopped_one_and_provisions_a_failed_project_again(string status)
    {
        var decision = ProjectDecider.Restart(In(status), LifecycleReasons.Owner, Now);
        switch (status)
        {
            case "ready":
                decision.Events.ShouldHaveSingleItem().ShouldBeOfType<VmRestartRequested>();
                break;
            case "stopped":
                decision.Events.ShouldHaveSingleItem().ShouldBeOfType<VmStartRequested>();
                break;
            case "failed":
                decision.Events.ShouldHaveSingleItem().ShouldBeOfType<ProvisioningRetried>();
                ProjectStatuses.After(decision.Events, ProjectStatus.Failed).ShouldBe(ProjectStatus.Requested);
                break;
            default:
                decision.RefusedIn.ShouldBe(In(status).Status);
                break;
        }
    }

    [Fact]
    public void a_restarted_vm_is_stopped_for_the_restart_then_started_again()
    {
        var restarting = From([.. Ready, new VmRestartRequested(Id, LifecycleReasons.Owner, Now)]);
        restarting.Status.ShouldBe(ProjectStatus.Stopping);
        var events = ProjectDecider.VmHasStopped(restarting, Now);
        events.Length.ShouldBe(2);
        events[0].ShouldBe(new VmStopped(Id, LifecycleReasons.Restart, Now));
        events[1].ShouldBe(new VmStartRequested(Id, LifecycleReasons.Owner, Now));
        From([.. Ready, new VmRestartRequested(Id, LifecycleReasons.Owner, Now), .. events]).Status.ShouldBe(ProjectStatus.Starting);
    }

    [Fact]
    public void a_stopped_vm_is_recorded_with_the_reason_of_its_stop()
    {
        var idle = From([.. Ready, new VmStopRequested(Id, LifecycleReasons.Idle, Now)]);
        ProjectDecider.VmHasStopped(idle, Now).ShouldHaveSingleItem().ShouldBe(new VmStopped(Id, LifecycleReasons.Idle, Now));
        ProjectDecider.VmHasStopped(From(Ready), Now).ShouldBeEmpty();
        ProjectDecider.VmHasStopped(From(Deleting), Now).ShouldBeEmpty();
    }

    [Fact]
    public void a_failed_stop_leaves_the_vm_ready_and_a_failed_start_leaves_it_stopped()
    {
        var stopFailed = ProjectDecider.StopFailed(From(Stopping), "engine", Now).ShouldHaveSingleItem();
        From([.. Stopping, stopFailed]).Status.ShouldBe(ProjectStatus.Ready);
        ProjectDecider.StopFailed(From(Ready), "engine", Now).ShouldBeEmpty();

        var startFailed = ProjectDecider.StartFailed(From(Starting), "exited", Now).ShouldHaveSingleItem();
        From([.. Starting, startFailed]).Status.ShouldBe(ProjectStatus.Stopped);
        ProjectDecider.StartFailed(From(Ready), "exited", Now).ShouldBeEmpty();
    }

    [Theory, MemberData(nameof(AllStatuses))]
    public void waking_starts_a_stopped_vm_restarts_a_stopping_one_and_leaves_the_rest(string status)
    {
        var decision = ProjectDecider.Wake(In(status), Now);
        switch (status)
        {
            case "stopped":
                decision.Events.ShouldHaveSingleItem().ShouldBe(new VmStartRequested(Id, LifecycleReasons.OnDemand, Now));
                break;
            case "stopping":
                decision.Events.ShouldHaveSingleItem().ShouldBe(new VmRestartRequested(Id, LifecycleReasons.OnDemand, Now));
                break;
            case "failed" or "deleting":
                decision.RefusedIn.ShouldBe(In(status).Status);
                break;
            default:
                decision.Refused.ShouldBeFalse();
                decision.Events.ShouldBeEmpty();
                break;
        }
    }

    [Fact]
    public void waking_a_stopping_vm_twice_asks_for_one_start_and_the_stop_keeps_its_reason()
    {
        var woken = From([.. Ready, new VmStopRequested(Id, LifecycleReasons.Idle, Now), new VmRestartRequested(Id,
            LifecycleReasons.OnDemand, Now)]);
        ProjectDecider.Wake(woken, Now).Events.ShouldBeEmpty();
        ProjectDecider.VmHasStopped(woken, Now).ShouldBe([new VmStopped(Id, LifecycleReasons.Idle, Now), new VmStartRequested(Id,
            LifecycleReasons.OnDemand, Now)]);
    }

    [Theory, MemberData(nameof(AllStatuses))]
    public void any_project_can_be_deleted_once(string status)
    {
        var events = ProjectDecider.Delete(In(status), Now);
        if (status == "deleting") events.ShouldBeEmpty();
        else events.ShouldHaveSingleItem().ShouldBe(new ProjectDeletionRequested(Id, Now));
    }

    [Fact]
    public void a_step_that_raced_a_deletion_leaves_the_project_deleting()
    {
        From([.. Deleting, new VmStopped(Id, LifecycleReasons.Owner, Now)]).Status.ShouldBe(ProjectStatus.Deleting);
        From([.. Requested, new ProjectDeletionRequested(Id, Now), new NetworkAllocated(Id, Net, "n", "nid",
            Now)]).Status.ShouldBe(ProjectStatus.Deleting);
        From([.. Deleting, new ProjectDeleted(Id, Now)]).Status.ShouldBe(ProjectStatus.Deleted);
    }

    [Fact]
    public void an_idle_ready_vm_stops_saying_why()
    {
        var ready = From(Ready); // ready since Now
        var hour = TimeSpan.FromHours(1);
        ProjectDecider.StopIfIdle(ready, Now, hour, Now.AddMinutes(59)).ShouldBeEmpty();
        ProjectDecider.StopIfIdle(ready, Now.AddMinutes(30), hour, Now.AddMinutes(61)).ShouldBeEmpty(); // used half an hour in
        ProjectDecider.StopIfIdle(ready, null, hour, Now.AddMinutes(60)).ShouldHaveSingleItem()
            .ShouldBe(new VmStopRequested(Id, LifecycleReasons.Idle, Now.AddMinutes(60)));
        ProjectDecider.StopIfIdle(ready, Now.AddMinutes(-5), hour, Now.AddMinutes(61)).ShouldHaveSingleItem(); // activity before ready
        ProjectDecider.StopIfIdle(ready, null, TimeSpan.Zero, Now.AddDays(1)).ShouldBeEmpty(); // 0 turns it off
        ProjectDecider.StopIfIdle(From(Stopped), null, hour, Now.AddDays(1)).ShouldBeEmpty();
    }

    [Fact]
    public void one_mapping_gives_every_project_event_its_status_and_time()
    {
        object[] all =
        [
            .. Ready, new ProjectProvisioningFailed(Id, "s", "r", Now), new ProvisioningRetried(Id, "owner", Now),
            new VmStopRequested(Id, "owner", Now), new VmRestartRequested(Id, "owner", Now), new VmStopped(Id, "owner", Now),
            new VmStopFailed(Id, "x", Now),
            new VmStartRequested(Id, "owner", Now), new VmStarted(Id, "vm", Now), new VmStartFailed(Id, "x", Now),
            new ProjectDeletionRequested(Id, Now), new ProjectDeleted(Id, Now),
        ];
        foreach (var e in all)
        {
            ProjectStatuses.Of(e).ShouldNotBeNull(e.GetType().Name);
            ProjectStatuses.TimeOf(e).ShouldBe(Now);
        }
        ProjectStatuses.Of(new OrphanRemoved("volume", "v", "v", Id, Now)).ShouldBeNull();
        // The live hub reads exactly these types from the event log: a status-changing event missing here never reaches /ws.
        ProjectStatuses.EventTypes.ShouldBe(all.Select(e => e.GetType()).Distinct(), ignoreOrder: true);
    }

    [Fact]
    public void a_subnet_is_stored_as_the_cidr_string_that_events_before_it_hold()
    {
        var json = JsonSerializer.Serialize(new NetworkAllocated(Id, Net, "n", "nid", Now));
        json.ShouldContain("\"Subnet\":\"172.30.4.0/24\"");
        JsonSerializer.Deserialize<NetworkAllocated>(json)!.Subnet.ShouldBe(Net);
        Should.Throw<FormatException>(() => JsonSerializer.Deserialize<NetworkAllocated>(json.Replace("/24", "/16")));
    }
}
