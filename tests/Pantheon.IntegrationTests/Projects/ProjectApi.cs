using System.Text.Json;
using Alba;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.Projects;

namespace Pantheon.IntegrationTests.Projects;

/// <summary>The project routes as a test drives them.</summary>
public static class ProjectApi
{
    public static async Task<Guid> Create(this IAlbaHost host, string token, string name = "test project")
    {
        var result = await host.Send(HttpMethod.Post, "/api/projects", token, new { name, os = "windows-11" }, status: 202);
        var body = await result.ReadAsJsonAsync<JsonElement>();
        var id = body.GetProperty("id").GetGuid();
        result.Context.Response.Headers.Location.ToString().ShouldBe($"/api/projects/{id}");
        body.GetProperty("status").GetString().ShouldBe("requested");
        return id;
    }

    /// <summary>Every project of the caller, page after page of <paramref name="pageSize"/>.</summary>
    public static async Task<List<ProjectResponse>> List(this IAlbaHost host, string token, int pageSize = 100)
    {
        var all = new List<ProjectResponse>();
        Guid? after = null;
        do
        {
            var url = $"/api/projects?limit={pageSize}" + (after is { } a ? $"&after={a}" : "");
            var page = await host.GetJson<Page<ProjectResponse>>(url, token);
            all.AddRange(page.Items);
            after = page.NextAfter;
        } while (after is not null);
        return all;
    }

    public static async Task<ProjectResponse?> Find(this IAlbaHost host, string token, Guid id)
    {
        var result = await host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Get.Url($"/api/projects/{id}");
            x.IgnoreStatusCode();
        });
        var status = result.Context.Response.StatusCode;
        if (status == 404) return null;
        status.ShouldBe(200);
        return await result.ReadAsJsonAsync<ProjectResponse>();
    }

    public static Task<ProjectResponse> WaitFor(this IAlbaHost host, string token, Guid id, ProjectStatus status, int seconds = 60) =>
        Eventually.Get(async () => (await host.Find(token, id))!, p => p is not null && (p.Status == status || p.Status == ProjectStatus.Failed && status != ProjectStatus.Failed),
            TimeSpan.FromSeconds(seconds), $"project {id} to be {status}");

    public static Task WaitUntilGone(this IAlbaHost host, string token, Guid id, int seconds = 60) =>
        Eventually.Get(() => host.Find(token, id), p => p is null, TimeSpan.FromSeconds(seconds), $"project {id} to be deleted");
}

/// <summary>The lifecycle routes: <c>POST /api/projects/{id}/{verb}</c>, or the operator's under <c>/api/admin</c>.</summary>
public static class LifecycleApi
{
    public static async Task<JsonElement> Lifecycle(this IAlbaHost host, string token, Guid id, string verb, int status = 202,
        bool admin = false)
    {
        var result = await host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Post.Url(admin ? $"/api/admin/projects/{id}/{verb}" : $"/api/projects/{id}/{verb}");
            x.StatusCodeShouldBe(status);
        });
        return status == 403 ? default : await result.ReadAsJsonAsync<JsonElement>();
    }
}
