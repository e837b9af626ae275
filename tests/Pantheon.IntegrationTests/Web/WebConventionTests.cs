using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Alba;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Web;

[Collection(AppCollection.Name)]
public class WebConventionTests(AppFixture app)
{
    private readonly string _token = TestSettings.TokenFor(TestSettings.NewUser());

    [Fact]
    public async Task malformed_json_is_a_400_problem()
    {
        var result = await Post("/api/user/api-keys", "{\"name\": \"x\", ", "application/json", 400);
        await ShouldBeProblem(result, 400);
    }

    [Fact]
    public async Task json_of_the_wrong_shape_is_a_400_problem()
    {
        var result = await Post("/api/user/settings", """{"model_parameters":{"temperature":"hot"}}""", "application/json", 400, HttpMethod.Put);
        await ShouldBeProblem(result, 400);
    }

    [Fact]
    public async Task a_body_over_one_mebibyte_is_a_413_problem()
    {
        var huge = "{\"name\":\"" + new string('x', 1024 * 1024 + 10) + "\",\"provider\":\"openai\",\"key\":\"sk-12345678\"}";
        var result = await Post("/api/user/api-keys", huge, "application/json", 413);
        await ShouldBeProblem(result, 413);
    }

    [Fact]
    public async Task a_chunked_body_over_one_mebibyte_is_a_413_problem()
    {
        var client = app.Host.Server.CreateClient();
        var huge = new string('x', 1024 * 1024 + 10);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/user/api-keys")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"name\":\"" + huge + "\"}"))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        using var response = await client.SendAsync(request);
        ((int)response.StatusCode).ShouldBe(413);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
    }

    [Fact]
    public async Task a_wrong_content_type_is_a_415_problem()
    {
        var result = await Post("/api/user/api-keys", "name=x&provider=openai", "application/x-www-form-urlencoded", 415);
        await ShouldBeProblem(result, 415);
    }

    [Fact]
    public async Task an_unknown_route_is_a_404()
    {
        await app.Host.Send(HttpMethod.Get, "/api/nothing-here", _token, status: 404);
    }

    [Fact]
    public async Task liveness_answers_without_a_token()
    {
        var result = await app.Host.Scenario(x =>
        {
            x.Get.Url("/health");
            x.StatusCodeShouldBeOk();
        });
        (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("status").GetString().ShouldBe("healthy");
    }

    [Fact]
    public async Task readiness_checks_postgresql_and_docker()
    {
        var result = await app.Host.Scenario(x =>
        {
            x.Get.Url("/health/ready");
            x.StatusCodeShouldBeOk();
        });
        var checks = (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("checks");
        checks.GetProperty("postgresql").GetProperty("status").GetString().ShouldBe("healthy");
        checks.GetProperty("docker").GetProperty("status").GetString().ShouldBe("healthy");
    }

    [Fact]
    public async Task the_openapi_document_covers_every_endpoint()
    {
        var result = await app.Host.Scenario(x =>
        {
            x.Get.Url("/openapi/v1.json");
            x.StatusCodeShouldBeOk();
        });
        var paths = (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("paths");

        var routes = app.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/api", StringComparison.Ordinal))
            .ToList();
        routes.Count.ShouldBeGreaterThanOrEqualTo(6);
        foreach (var route in routes)
        {
            var path = "/" + route.RoutePattern.RawText!.TrimStart('/');
            paths.TryGetProperty(path, out var operations).ShouldBeTrue($"{path} is missing from the OpenAPI document");
            foreach (var method in route.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods)
                operations.TryGetProperty(method.ToLowerInvariant(), out _).ShouldBeTrue($"{method} {path} is missing from the OpenAPI document");
        }
    }

    private Task<IScenarioResult> Post(string url, string body, string contentType, int status, HttpMethod? method = null) =>
        app.Host.Scenario(x =>
        {
            x.WithBearerToken(_token);
            if (method == HttpMethod.Put) x.Put.Text(body).ToUrl(url);
            else x.Post.Text(body).ToUrl(url);
            x.WithRequestHeader("Content-Type", contentType);
            x.StatusCodeShouldBe(status);
        });

    private static async Task ShouldBeProblem(IScenarioResult result, int status)
    {
        result.Context.Response.ContentType.ShouldStartWith("application/problem+json");
        var problem = await result.ReadAsJsonAsync<JsonElement>();
        problem.GetProperty("status").GetInt32().ShouldBe(status);
        problem.GetProperty("title").GetString().ShouldNotBeNullOrEmpty();
    }
}
