using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;

namespace Pantheon.IntegrationTests.Web;

[Collection(AppCollection.Name)]
public class PagingTests(AppFixture app)
{
    [Fact]
    public async Task keys_come_a_page_at_a_time_oldest_first_until_next_after_is_null()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var added = new List<Guid>();
        for (var i = 0; i < 5; i++)
            added.Add(await IdOf(await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token,
                new { name = $"key {i}", provider = "openai", key = $"sk-paged-key-{i:D4}" }, status: 201)));

        var pages = await AllPages("/api/user/api-keys", token, 2);
        pages.Select(p => p.Count).ShouldBe([2, 2, 1]);
        pages.SelectMany(p => p).ShouldBe(added.Order());
    }

    [Fact]
    public async Task custom_models_and_projects_are_paged_the_same_way()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var models = new List<Guid>();
        for (var i = 0; i < 3; i++)
            models.Add(await IdOf(await app.Host.Send(HttpMethod.Post, "/api/user/models", token,
                new { model_id = $"paged-{i}", provider = "openai-compatible", endpoint = "https://models.example.com/v1" },
                status: 201)));
        var projects = new List<Guid>();
        for (var i = 0; i < 3; i++) projects.Add(await app.Host.Create(token, $"paged {i}"));
        try
        {
            (await AllPages("/api/user/models", token, 2)).Select(p => p.Count).ShouldBe([2, 1]);
            (await AllPages("/api/user/models", token, 2)).SelectMany(p => p).ShouldBe(models.Order());
            (await AllPages("/api/projects", token, 2)).SelectMany(p => p).ShouldBe(projects.Order());
            (await app.Host.List(token, pageSize: 1)).Select(p => p.Id).ShouldBe(projects.Order());
        }
        finally
        {
            foreach (var id in projects) await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        }
    }

    [Theory]
    [InlineData("/api/projects?limit=0", "limit")]
    [InlineData("/api/user/api-keys?limit=501", "limit")]
    [InlineData("/api/user/models?limit=-1", "limit")]
    public async Task a_limit_out_of_range_is_a_400_naming_it(string url, string field)
    {
        var problem = await app.Host.GetJson<JsonElement>(url, TestSettings.TokenFor(TestSettings.NewUser()), status: 400);
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task a_cursor_that_is_no_id_is_a_400_naming_it()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var problem = await app.Host.GetJson<JsonElement>("/api/projects?after=not-an-id", token, status: 400);
        problem.ToString().ShouldContain("after");
    }

    private async Task<List<List<Guid>>> AllPages(string url, string token, int limit)
    {
        var pages = new List<List<Guid>>();
        string? after = null;
        do
        {
            var page = await app.Host.GetJson<JsonElement>($"{url}?limit={limit}" + (after is null ? "" : $"&after={after}"), token);
            pages.Add(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()).ToList());
            var next = page.GetProperty("next_after");
            after = next.ValueKind == JsonValueKind.Null ? null : next.GetGuid().ToString();
        } while (after is not null);
        return pages;
    }

    private static async Task<Guid> IdOf(IScenarioResult result) =>
        (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
}
