using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;

namespace Pantheon.IntegrationTests.Limits;

[Collection(RateLimitCollection.Name)]
public class RateLimitTests(RateLimitFixture fixture)
{
    private IAlbaHost Host => fixture.Host;

    [Fact]
    public async Task a_user_past_the_api_bucket_gets_a_429_with_retry_after_naming_the_limit_and_other_users_do_not()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        for (var i = 0; i < RateLimitFixture.Api; i++)
            (await Host.Try(HttpMethod.Get, "/api/user/settings", token)).Context.Response.StatusCode.ShouldBe(200);

        var limited = await Host.Try(HttpMethod.Get, "/api/user/settings", token);
        limited.ShouldNameLimit(429, "RateLimits:Api", RateLimitFixture.Api);
        ShouldSayWhenToRetry(limited);

        var other = TestSettings.TokenFor(TestSettings.NewUser());
        (await Host.Try(HttpMethod.Get, "/api/user/settings", other)).Context.Response.StatusCode.ShouldBe(200);
        (await Host.Try(HttpMethod.Get, "/health", token)).Context.Response.StatusCode.ShouldBe(200);
    }

    [Fact]
    public async Task chat_has_a_stricter_bucket_than_the_rest_of_the_api()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var chat = new { message = "hi", model = LimitedHostFixture.Model };
        (await Host.Try(HttpMethod.Post, "/api/chat", token, chat)).Context.Response.StatusCode.ShouldBe(200);

        var limited = await Host.Try(HttpMethod.Post, "/api/chat", token, chat);
        limited.ShouldNameLimit(429, "RateLimits:Chat", 1);
        ShouldSayWhenToRetry(limited);
        (await Host.Try(HttpMethod.Get, "/api/user/settings", token)).Context.Response.StatusCode.ShouldBe(200);
    }

    [Fact]
    public async Task creating_projects_has_a_stricter_bucket_than_the_rest_of_the_api()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = await Host.Create(token, "rate limited");
        var limited = await Host.Try(HttpMethod.Post, "/api/projects", token, new { name = "too soon" });
        limited.ShouldNameLimit(429, "RateLimits:Projects", 1);
        ShouldSayWhenToRetry(limited);
        (await Host.List(token)).ShouldHaveSingleItem().Id.ShouldBe(id); // the fixture removes its machine
    }

    private static void ShouldSayWhenToRetry(IScenarioResult result)
    {
        var seconds = int.Parse(result.Context.Response.Headers.RetryAfter.ToString());
        seconds.ShouldBeInRange(1, 60);
    }
}
