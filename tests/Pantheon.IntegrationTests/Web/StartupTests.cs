using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Web;

public class StartupTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("too-short-secret")]
    public async Task production_refuses_to_start_without_a_master_secret_of_32_characters(string? secret)
    {
        await TestDatabase.EnsureCreatedAsync();
        var settings = TestSettings.Base();
        settings["MCP_MASTER_SECRET"] = secret;
        var failure = await Should.ThrowAsync<Exception>(async () =>
        {
            await using var host = await AppFixture.StartAsync(settings, environment: "Production");
        });
        Flatten(failure).ShouldContain(e => e.Message.Contains("MCP_MASTER_SECRET"));
    }

    [Fact]
    public async Task production_starts_with_a_master_secret()
    {
        await TestDatabase.EnsureCreatedAsync();
        await using var host = await AppFixture.StartAsync(TestSettings.Base(), environment: "Production");
        await host.Scenario(x =>
        {
            x.Get.Url("/health");
            x.StatusCodeShouldBeOk();
        });
    }

    [Fact]
    public async Task readiness_is_503_naming_docker_when_the_engine_does_not_answer()
    {
        await TestDatabase.EnsureCreatedAsync();
        var settings = TestSettings.Base();
        settings["Docker:Endpoint"] = "unix:///tmp/pantheon-no-docker-here.sock";
        await using var host = await AppFixture.StartAsync(settings);
        var result = await host.Scenario(x =>
        {
            x.Get.Url("/health/ready");
            x.StatusCodeShouldBe(503);
        });
        var checks = (await result.ReadAsJsonAsync<JsonElement>()).GetProperty("checks");
        checks.GetProperty("docker").GetProperty("status").GetString().ShouldBe("unhealthy");
        checks.GetProperty("docker").GetProperty("error").GetString().ShouldNotBeNullOrEmpty();
        checks.GetProperty("postgresql").GetProperty("status").GetString().ShouldBe("healthy");
    }

    private static IEnumerable<Exception> Flatten(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            yield return current;
            if (current is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten)) yield return inner;
        }
    }
}
