using System.Text.RegularExpressions;
using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;

namespace Pantheon.IntegrationTests.Web;

/// <summary>A 404 must not tell an id that exists (someone else's, or revoked) from one that never did.</summary>
[Collection(AppCollection.Name)]
public partial class NotFoundTests(AppFixture app)
{
    [Fact]
    public async Task another_users_resource_answers_byte_for_byte_like_one_that_does_not_exist()
    {
        var alice = TestSettings.TokenFor(TestSettings.NewUser("alice"));
        var bob = TestSettings.TokenFor(TestSettings.NewUser("bob"));
        var key = await IdOf(await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", alice,
            new { name = "alice's", provider = "openai", key = "sk-alice-0123456789" }, status: 201));
        var model = await IdOf(await app.Host.Send(HttpMethod.Post, "/api/user/models", alice,
            new { model_id = "alice-model", provider = "openai-compatible", endpoint = "https://models.example.com/v1" }, status: 201));
        var project = await app.Host.Create(alice, "alice project");

        (HttpMethod Method, string Url, Guid Theirs)[] routes =
        [
            (HttpMethod.Delete, "/api/user/api-keys/{0}", key),
            (HttpMethod.Delete, "/api/user/models/{0}", model),
            (HttpMethod.Get, "/api/projects/{0}", project),
            (HttpMethod.Delete, "/api/projects/{0}", project),
            (HttpMethod.Get, "/api/projects/{0}/events", project),
            (HttpMethod.Get, "/api/chat/history?project_id={0}", project),
            (HttpMethod.Delete, "/api/chat/history?project_id={0}", project),
        ];
        foreach (var (method, url, id) in routes)
        {
            var theirs = await Answer(method, string.Format(url, id), bob);
            var nobodys = await Answer(method, string.Format(url, Guid.NewGuid()), bob);
            theirs.ShouldBe(nobodys, $"{method} {url}");
            theirs.Status.ShouldBe(404);
        }

        // The owner's own revoked key is gone the same way.
        await app.Host.Send(HttpMethod.Delete, $"/api/user/api-keys/{key}", alice, status: 204);
        (await Answer(HttpMethod.Delete, $"/api/user/api-keys/{key}", alice))
            .ShouldBe(await Answer(HttpMethod.Delete, $"/api/user/api-keys/{Guid.NewGuid()}", alice));
    }

    private async Task<(int Status, string? ContentType, string Body)> Answer(HttpMethod method, string url, string token)
    {
        var result = await app.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            if (method == HttpMethod.Get) x.Get.Url(url);
            else x.Delete.Url(url);
            x.IgnoreStatusCode();
        });
        var body = TraceId().Replace(result.ReadAsText(), "\"trace_id\":\"-\"");
        return (result.Context.Response.StatusCode, result.Context.Response.ContentType, body);
    }

    private static async Task<Guid> IdOf(IScenarioResult result) =>
        (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

    [GeneratedRegex("\"trace_id\":\"[^\"]*\"")]
    private static partial Regex TraceId();
}
