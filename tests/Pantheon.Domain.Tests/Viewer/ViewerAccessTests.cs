using Pantheon.Domain.Projects;
using Pantheon.Domain.Viewer;

namespace Pantheon.Domain.Tests.Viewer;

public class ViewerAccessTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private static readonly Guid Project = Guid.CreateVersion7(), Other = Guid.CreateVersion7();
    private static readonly ViewerTicketGrant Ticket = new("alice", Project, Now.AddSeconds(60));

    [Theory]
    [InlineData(ProjectStatus.Requested)]
    [InlineData(ProjectStatus.Provisioning)]
    [InlineData(ProjectStatus.Failed)]
    [InlineData(ProjectStatus.Deleting)]
    public void only_a_ready_project_has_a_viewer_and_the_refusal_names_the_status(ProjectStatus status)
    {
        ViewerAccess.HasViewer(status).ShouldBeFalse();
        ViewerAccess.NotRunning(status).ShouldContain(status.ToString().ToLowerInvariant());
        ViewerAccess.HasViewer(ProjectStatus.Ready).ShouldBeTrue();
    }

    [Fact]
    public void a_fresh_ticket_for_the_path_project_opens_a_session()
    {
        ViewerAccess.Redeem(Ticket, Project, null, Now).ShouldBe(ViewerRefusal.None);
        ViewerAccess.Redeem(Ticket, Project, "alice", Now.AddSeconds(59)).ShouldBe(ViewerRefusal.None);
    }

    [Fact]
    public void a_ticket_not_in_the_store_was_never_issued_or_is_spent() =>
        ViewerAccess.Redeem(null, Project, null, Now).ShouldBe(ViewerRefusal.UnknownOrSpent);

    [Fact]
    public void a_ticket_is_refused_from_its_expiry_on() =>
        ViewerAccess.Redeem(Ticket, Project, null, Now.AddSeconds(60)).ShouldBe(ViewerRefusal.Expired);

    [Fact]
    public void a_ticket_opens_only_its_own_project() =>
        ViewerAccess.Redeem(Ticket, Other, null, Now).ShouldBe(ViewerRefusal.OtherProject);

    [Fact]
    public void a_request_that_proves_another_user_cannot_use_the_ticket() =>
        ViewerAccess.Redeem(Ticket, Project, "mallory", Now).ShouldBe(ViewerRefusal.OtherUser);

    [Fact]
    public void a_session_continues_only_for_its_project_its_user_and_until_it_expires()
    {
        var session = new ViewerSession("alice", Project, Now.AddHours(1));
        ViewerAccess.Continue(session, Project, null, Now).ShouldBe(ViewerRefusal.None);
        ViewerAccess.Continue(null, Project, null, Now).ShouldBe(ViewerRefusal.NoCredentials);
        ViewerAccess.Continue(session, Project, null, Now.AddHours(1)).ShouldBe(ViewerRefusal.Expired);
        ViewerAccess.Continue(session, Other, null, Now).ShouldBe(ViewerRefusal.OtherProject);
        ViewerAccess.Continue(session, Project, "mallory", Now).ShouldBe(ViewerRefusal.OtherUser);
    }
}
