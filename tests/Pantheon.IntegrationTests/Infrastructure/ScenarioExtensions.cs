using Alba;

namespace Pantheon.IntegrationTests.Infrastructure;

public static class ScenarioExtensions
{
    /// <summary>Sends raw JSON and asserts a 400 validation problem whose <c>errors</c> name <paramref name="field"/>.</summary>
    public static async Task ShouldRejectField(this IAlbaHost host, HttpMethod method, string url, string token, string body, string field)
    {
        var result = await host.Scenario(x =>
        {
            x.WithBearerToken(token);
            if (method == HttpMethod.Put) x.Put.Text(body).ToUrl(url);
            else x.Post.Text(body).ToUrl(url);
            x.WithRequestHeader("Content-Type", "application/json");
            x.StatusCodeShouldBe(400);
        });
        var problem = await result.ReadAsJsonAsync<System.Text.Json.JsonElement>();
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    public static async Task<T> GetJson<T>(this IAlbaHost host, string url, string token, int status = 200)
    {
        var result = await host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Get.Url(url);
            x.StatusCodeShouldBe(status);
        });
        return (await result.ReadAsJsonAsync<T>())!;
    }

    public static Task<IScenarioResult> Send(this IAlbaHost host, HttpMethod method, string url, string? token, object? body = null, int status = 200) =>
        host.Scenario(x =>
        {
            if (token is not null) x.WithBearerToken(token);
            if (method == HttpMethod.Get) x.Get.Url(url);
            else if (method == HttpMethod.Delete) x.Delete.Url(url);
            else if (method == HttpMethod.Put) x.Put.Json(body!).ToUrl(url);
            else x.Post.Json(body!).ToUrl(url);
            x.StatusCodeShouldBe(status);
        });
}
