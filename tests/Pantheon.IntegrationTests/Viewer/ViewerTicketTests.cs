using System.Net;
using System.Text.Json;
using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Viewer;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;

namespace Pantheon.IntegrationTests.Viewer;

/// <summary>Tickets and sessions, on the shared host (a busybox VM: nothing answers on its viewer port).</summary>
[Collection(AppCollection.Name)]
public class ViewerTicketTests(AppFixture app)
{
    [Fact]
    public async Task a_ticket_opens_one_session_and_is_refused_when_used_again()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser("viewer"));
        var project = await ReadyProject(token);
        var issued = await app.Host.Ticket(token, project);
        var expires = issued.GetProperty("expires_at").GetDateTimeOffset();
        expires.ShouldBeInRange(DateTimeOffset.UtcNow.AddSeconds(30), DateTimeOffset.UtcNow.AddSeconds(90));
        var url = issued.GetProperty("url").GetString()!;
        url.ShouldStartWith($"/api/projects/{project}/viewer/");
        url.ShouldContain($"path=api/projects/{project}/viewer/websockify");

        var opened = await app.Host.Scenario(x =>
        {
            x.Get.Url(url);
            x.StatusCodeShouldBe(303);
        });
        var location = opened.Context.Response.Headers.Location.ToString();
        location.ShouldStartWith($"/api/projects/{project}/viewer/vnc.html?");
        location.ShouldNotContain("ticket");
        var cookie = opened.Context.Response.Headers.SetCookie.ToString();
        cookie.ShouldStartWith($"{ViewerSessions.CookieName}=");
        cookie.ShouldContain($"path=/api/projects/{project}/viewer/");
        cookie.ShouldContain("httponly");
        cookie.ShouldContain("samesite=strict");

        var reused = await app.Host.Scenario(x =>
        {
            x.Get.Url(url);
            x.StatusCodeShouldBe(401);
        });
        (await reused.ReadAsJsonAsync<JsonElement>()).GetProperty("detail").GetString()!.ShouldContain("already used");

        // The session goes on with the cookie alone; the busybox VM has no viewer, so the proxy reaches nothing.
        var forwarded = await app.Host.Scenario(x =>
        {
            x.Get.Url(location);
            x.WithRequestHeader("Cookie", cookie.Split(';')[0]);
            x.StatusCodeShouldBe(502);
        });
        forwarded.Context.Response.ContentType.ShouldBe("application/problem+json");
        await app.Host.Scenario(x =>
        {
            x.Get.Url(location);
            x.StatusCodeShouldBe(401);
        });
    }

    [Fact]
    public async Task an_expired_ticket_is_refused()
    {
        var user = TestSettings.NewUser("viewer");
        var token = TestSettings.TokenFor(user);
        var project = await ReadyProject(token);
        var tickets = app.Host.Services.GetRequiredService<ViewerTickets>();
        var issuedAt = DateTimeOffset.UtcNow.AddSeconds(-61);
        var ticket = await tickets.IssueAsync(user, project, issuedAt, issuedAt.AddSeconds(60), default);

        var refused = await app.Host.Scenario(x =>
        {
            x.Get.Url($"/api/projects/{project}/viewer/vnc.html?ticket={ticket}");
            x.StatusCodeShouldBe(401);
        });
        (await refused.ReadAsJsonAsync<JsonElement>()).GetProperty("detail").GetString()!.ShouldContain("expired");
    }

    [Fact]
    public async Task another_users_ticket_is_refused_and_their_project_has_no_ticket_for_you()
    {
        var alice = TestSettings.TokenFor(TestSettings.NewUser("alice"));
        var bob = TestSettings.TokenFor(TestSettings.NewUser("bob"));
        var project = await ReadyProject(alice);
        var other = await ReadyProject(bob);

        await app.Host.Send(HttpMethod.Post, $"/api/projects/{project}/viewer-ticket", bob, new { }, status: 404);

        // Alice's ticket, presented by Bob's signed-in client.
        var url = (await app.Host.Ticket(alice, project)).GetProperty("url").GetString()!;
        var otherUser = await app.Host.Scenario(x =>
        {
            x.WithBearerToken(bob);
            x.Get.Url(url);
            x.StatusCodeShouldBe(401);
        });
        (await otherUser.ReadAsJsonAsync<JsonElement>()).GetProperty("detail").GetString()!.ShouldContain("another user");

        // Alice's ticket at the path of Bob's project.
        var ticket = (await app.Host.Ticket(alice, project)).GetProperty("ticket").GetString()!;
        var otherProject = await app.Host.Scenario(x =>
        {
            x.Get.Url($"/api/projects/{other}/viewer/vnc.html?ticket={ticket}");
            x.StatusCodeShouldBe(401);
        });
        (await otherProject.ReadAsJsonAsync<JsonElement>()).GetProperty("detail").GetString()!.ShouldContain("another project");

        // A cookie is no better than the ticket that made it: a forged one is refused.
        await app.Host.Scenario(x =>
        {
            x.Get.Url($"/api/projects/{other}/viewer/vnc.html");
            x.WithRequestHeader("Cookie", $"{ViewerSessions.CookieName}={other:N}.9999999999.Ym9i.AAAA");
            x.StatusCodeShouldBe(401);
        });
    }

    [Fact]
    public async Task a_project_whose_vm_is_not_running_has_no_viewer_ticket()
    {
        var user = TestSettings.NewUser("viewer");
        var token = TestSettings.TokenFor(user);
        // Requested and never provisioned: no saga was started for it.
        var project = Guid.CreateVersion7();
        await using (var session = app.Host.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            var requested = new ProjectRequested(project, user, "waiting", ProjectOs.Windows11, DateTimeOffset.UtcNow);
            session.Events.StartStream(project, requested);
            await session.SaveChangesAsync();
        }

        var result = await app.Host.Send(HttpMethod.Post, $"/api/projects/{project}/viewer-ticket", token, new { }, status: 409);
        var problem = await result.ReadAsJsonAsync<JsonElement>();
        problem.GetProperty("detail").GetString()!.ShouldContain("requested");
        problem.GetProperty("project_status").GetString().ShouldBe("requested");
    }

    [Fact]
    public async Task a_ticket_for_a_stopped_project_starts_it_and_is_issued_once_it_is_ready()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser("viewer"));
        var project = await ReadyProject(token);
        await app.Host.Lifecycle(token, project, "stop");
        await app.Host.WaitFor(token, project, ProjectStatus.Stopped);

        var woken = await app.Host.Send(HttpMethod.Post, $"/api/projects/{project}/viewer-ticket", token, new { }, status: 202);
        (await woken.ReadAsJsonAsync<JsonElement>()).GetProperty("status").GetString().ShouldBe("starting");

        await app.Host.WaitFor(token, project, ProjectStatus.Ready);
        (await app.Host.Ticket(token, project)).GetProperty("url").GetString()!.ShouldStartWith($"/api/projects/{project}/viewer/");
    }

    [Fact]
    public async Task the_viewer_root_without_its_slash_redirects_to_it()
    {
        var project = Guid.CreateVersion7();
        var result = await app.Host.Scenario(x =>
        {
            x.Get.Url($"/api/projects/{project}/viewer");
            x.StatusCodeShouldBe((int)HttpStatusCode.PermanentRedirect);
        });
        result.Context.Response.Headers.Location.ToString().ShouldBe($"/api/projects/{project}/viewer/");
    }

    private async Task<Guid> ReadyProject(string token)
    {
        var project = await app.Host.Create(token, "viewed");
        (await app.Host.WaitFor(token, project, ProjectStatus.Ready)).Status.ShouldBe(ProjectStatus.Ready);
        return project;
    }
}

public static class ViewerApi
{
    public static async Task<JsonElement> Ticket(this IAlbaHost host, string token, Guid project) =>
        await (await host.Send(HttpMethod.Post, $"/api/projects/{project}/viewer-ticket", token, new { })).ReadAsJsonAsync<JsonElement>();
}
