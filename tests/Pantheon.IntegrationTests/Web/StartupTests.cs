using System.Text.Json;
using Alba;
using Pantheon.Handlers.Keys;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Web;

public class StartupTests
{
    [Theory]
    [InlineData("Production", null)]
    [InlineData("Production", "")]
    [InlineData("Production", "too-short-secret")]
    [InlineData("Production", MasterSecret.DevelopmentFallback)]
    [InlineData("Testing", null)]
    [InlineData("Testing", MasterSecret.DevelopmentFallback)]
    public async Task outside_development_the_backend_refuses_to_start_without_its_own_master_secret(string environment, string? secret)
    {
        await TestDatabase.EnsureCreatedAsync();
        var settings = TestSettings.Production();
        settings["MCP_MASTER_SECRET"] = secret;
        var failure = await Should.ThrowAsync<Exception>(async () =>
        {
            await using var host = await AppFixture.StartAsync(settings, environment: environment);
        });
        Flatten(failure).ShouldContain(e => e.Message.Contains("MCP_MASTER_SECRET"));
    }

    [Fact]
    public async Task production_refuses_a_symmetric_signing_key_unless_allowed()
    {
        await TestDatabase.EnsureCreatedAsync();
        var settings = TestSettings.Base();
        var failure = await Should.ThrowAsync<Exception>(async () =>
        {
            await using var host = await AppFixture.StartAsync(settings, environment: "Production");
        });
        Flatten(failure).ShouldContain(e => e.Message.Contains("Auth:AllowSymmetricKey"));
    }

    [Fact]
    public async Task production_starts_with_a_master_secret_and_an_allowed_symmetric_key_and_warns_about_the_key()
    {
        await TestDatabase.EnsureCreatedAsync();
        var logs = new LogCapture();
        await using var host = await AppFixture.StartAsync(TestSettings.Production(), logs, environment: "Production");
        await host.Scenario(x =>
        {
            x.Get.Url("/health");
            x.StatusCodeShouldBeOk();
        });
        logs.Lines.ShouldContain(l => l.StartsWith("Warning ") && l.Contains("Auth:AllowSymmetricKey=true"));
    }

    [Fact]
    public async Task readiness_is_503_naming_docker_without_the_exceptions_text()
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
        var body = result.ReadAsText();
        var checks = JsonSerializer.Deserialize<JsonElement>(body).GetProperty("checks");
        checks.GetProperty("docker").GetProperty("status").GetString().ShouldBe("unhealthy");
        checks.GetProperty("docker").GetProperty("error").GetString().ShouldBe("docker did not answer in time or answered with an error.");
        checks.GetProperty("postgresql").GetProperty("status").GetString().ShouldBe("healthy");
        // The anonymous answer names the check, never the endpoint, path or socket error behind it.
        body.ShouldNotContain("pantheon-no-docker-here");
        body.ShouldNotContain("No such file", Case.Insensitive);
        body.ShouldNotContain("Exception", Case.Insensitive);
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
