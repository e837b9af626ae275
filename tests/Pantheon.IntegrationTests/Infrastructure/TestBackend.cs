using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Infrastructure;

public static class TestBackend
{
    /// <summary>The backend built for the tests, in a process of its own, in the Testing environment.</summary>
    public static Task<BackendProcess> StartAsync(IReadOnlyDictionary<string, string?> settings) =>
        BackendProcess.StartAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Pantheon.Web.dll")],
            Path.Combine(PantheonCli.RepositoryRoot(), "src", "Pantheon.Web"),
            settings.Append(new("ASPNETCORE_ENVIRONMENT", "Testing")));
}
