using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Auth;

public class DevTokenCommandTests
{
    [Fact]
    public async Task dev_token_refuses_to_mint_outside_development()
    {
        await TestDatabase.EnsureCreatedAsync();
        var (exit, output, error) = await PantheonCli.RunAsync(TestSettings.Base(), "dev-token", "--user", "mallory");
        exit.ShouldNotBe(0);
        error.ShouldContain("dev-token runs only in Development");
        output.ShouldNotContain("eyJ"); // no JWT printed
    }
}
