using System.Text.Json;
using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;
using Pantheon.Web.Auth;

namespace Pantheon.IntegrationTests.Admin;

[Collection(AppCollection.Name)]
public class SagaDashboardTests(AppFixture app)
{
    [Fact]
    public async Task an_admin_sees_every_saga_with_its_step_and_others_get_403()
    {
        var owner = TestSettings.NewUser("owner");
        var token = TestSettings.TokenFor(owner);
        var project = await app.Host.Create(token, "dashboarded");
        await app.Host.WaitFor(token, project, ProjectStatus.Ready);

        await app.Host.Send(HttpMethod.Get, "/api/admin/sagas", token, status: 403);
        var admin = TestSettings.TokenFor(TestSettings.NewUser("admin"), roles: AuthSettings.AdminRole);
        var page = await app.Host.GetJson<JsonElement>($"/api/admin/sagas?owner={owner}", admin);
        var row = page.GetProperty("items").EnumerateArray().Single(r => r.GetProperty("project_id").GetGuid() == project);
        row.GetProperty("owner_id").GetString().ShouldBe(owner);
        row.GetProperty("project_name").GetString().ShouldBe("dashboarded");
        row.GetProperty("step").GetString().ShouldBe("Ready");
        row.GetProperty("project_status").GetString().ShouldBe("ready");
        row.GetProperty("attempts").GetInt32().ShouldBe(0);
        row.GetProperty("waiting_on_timeout").GetBoolean().ShouldBeFalse();
        row.GetProperty("age_seconds").GetDouble().ShouldBeGreaterThanOrEqualTo(0);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project}", token, status: 202);
        await app.Host.WaitUntilGone(token, project);
    }

    [Fact]
    public async Task work_in_flight_and_failures_come_before_deleted_projects_whose_names_stay_and_pages_hold_every_row()
    {
        var owner = TestSettings.NewUser("busy");
        var token = TestSettings.TokenFor(owner);
        var admin = TestSettings.TokenFor(TestSettings.NewUser("admin"), roles: AuthSettings.AdminRole);
        var deleted = new List<Guid>();
        foreach (var name in new[] { "gone-1", "gone-2", "gone-3" })
        {
            var id = await app.Host.Create(token, name);
            await app.Host.WaitFor(token, id, ProjectStatus.Ready);
            await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
            await app.Host.WaitUntilGone(token, id);
            deleted.Add(id);
        }
        var ready = await app.Host.Create(token, "running");
        await app.Host.WaitFor(token, ready, ProjectStatus.Ready);
        // Requested and never provisioned (no saga started): work in flight, the newest row but the one that matters.
        var waiting = Guid.CreateVersion7();
        await using (var session = app.Host.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            var requested = new ProjectRequested(waiting, owner, "waiting", ProjectOs.Windows11, DateTimeOffset.UtcNow);
            session.Events.StartStream(waiting, requested);
            await session.SaveChangesAsync();
        }

        var rows = new List<JsonElement>();
        string? after = null;
        do
        {
            var url = $"/api/admin/sagas?owner={owner}&limit=2" + (after is null ? "" : $"&after={after}");
            var page = await app.Host.GetJson<JsonElement>(url, admin);
            rows.AddRange(page.GetProperty("items").EnumerateArray());
            page.GetProperty("counts").GetProperty("deleted").GetInt32().ShouldBeGreaterThanOrEqualTo(3);
            after = page.GetProperty("next_after").GetString();
        } while (after is not null);

        rows.Select(r => r.GetProperty("project_id").GetGuid()).ShouldBe([waiting, ready, deleted[2], deleted[1], deleted[0]]);
        rows.Select(r => r.GetProperty("project_name").GetString()).ShouldBe(["waiting", "running", "gone-3", "gone-2", "gone-1"]);
        rows.Select(r => r.GetProperty("project_status").GetString()).ShouldBe(["requested", "ready", "deleted", "deleted", "deleted"]);
        rows[2].GetProperty("step").GetString().ShouldBe("Deleted");
        rows[0].GetProperty("step").ValueKind.ShouldBe(JsonValueKind.Null);

        var onlyDeleted = await app.Host.GetJson<JsonElement>($"/api/admin/sagas?owner={owner}&status=deleted", admin);
        onlyDeleted.GetProperty("items").GetArrayLength().ShouldBe(3);
        await app.Host.Send(HttpMethod.Get, "/api/admin/sagas?limit=0", admin, status: 400);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{ready}", token, status: 202);
        await app.Host.WaitUntilGone(token, ready);
    }

    [Fact]
    public async Task the_operations_page_is_served_without_a_token()
    {
        var result = await app.Host.Scenario(x =>
        {
            x.Get.Url("/admin/");
            x.StatusCodeShouldBeOk();
        });
        result.ReadAsText().ShouldContain("Provisioning sagas");
        var redirect = await app.Host.Scenario(x =>
        {
            x.Get.Url("/admin");
            x.StatusCodeShouldBe(301);
        });
        redirect.Context.Response.Headers.Location.ToString().ShouldEndWith("/admin/");
        await app.Host.Scenario(x =>
        {
            x.Get.Url("/admin/admin.js");
            x.StatusCodeShouldBeOk();
        });
    }
}
