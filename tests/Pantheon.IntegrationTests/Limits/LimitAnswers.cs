using System.Text.Json;
using Alba;

namespace Pantheon.IntegrationTests.Limits;

public static class LimitAnswers
{
    public static Task<IScenarioResult> Try(this IAlbaHost host, HttpMethod method, string url, string token, object? body = null) =>
        host.Scenario(x =>
        {
            x.WithBearerToken(token);
            if (method == HttpMethod.Get) x.Get.Url(url);
            else if (method == HttpMethod.Delete) x.Delete.Url(url);
            else x.Post.Json(body!).ToUrl(url);
            x.IgnoreStatusCode();
        });

    /// <summary>Asserts a problem answer that names the limit's setting and its value.</summary>
    public static void ShouldNameLimit(this IScenarioResult result, int status, string setting, int value)
    {
        var text = result.ReadAsText();
        result.Context.Response.StatusCode.ShouldBe(status, text);
        result.Context.Response.ContentType.ShouldBe("application/problem+json");
        var problem = JsonSerializer.Deserialize<JsonElement>(text);
        problem.GetProperty("status").GetInt32().ShouldBe(status);
        problem.GetProperty("limit").GetString().ShouldBe(setting);
        problem.GetProperty("value").GetInt32().ShouldBe(value);
        problem.GetProperty("detail").GetString()!.ShouldContain(setting);
    }
}
