using System.Text.Json;
using Alba;
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
        var rows = await app.Host.GetJson<List<JsonElement>>("/api/admin/sagas", admin);
        var row = rows.Single(r => r.GetProperty("project_id").GetGuid() == project);
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
