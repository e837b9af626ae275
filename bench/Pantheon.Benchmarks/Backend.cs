using System.Diagnostics;
using Pantheon.TestSupport;

namespace Pantheon.Benchmarks;

/// <summary>The backend as a published Release process, configured for the benchmarks.</summary>
public static class Backend
{
    public static async Task<BackendProcess> StartAsync(IReadOnlyDictionary<string, string> extra)
    {
        var root = Root();
        var output = PublishDirectory;
        var publish = Process.Start("dotnet", ["publish", Path.Combine(root, "src", "Pantheon.Web"), "-c", "Release", "-r", "linux-x64", "--self-contained", "-o", output, "--nologo", "-v", "quiet"])!;
        await publish.WaitForExitAsync();
        if (publish.ExitCode != 0) throw new InvalidOperationException("dotnet publish failed");

        var settings = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__Marten"] = Environment.GetEnvironmentVariable("ConnectionStrings__Marten")
                ?? "Host=127.0.0.1;Port=5433;Database=pantheon;Username=pantheon_app;Password=pantheon_app",
            ["ConnectionStrings__MartenOwner"] = Environment.GetEnvironmentVariable("ConnectionStrings__MartenOwner")
                ?? "Host=127.0.0.1;Port=5433;Database=pantheon;Username=pantheon_owner;Password=pantheon_owner",
            ["MCP_MASTER_SECRET"] = "benchmark-master-secret-0123456789abcdef",
            ["Auth__AllowSymmetricKey"] = "true", // the benchmarks mint HS256 tokens
            ["Projects__ReconcilerEnabled"] = "false",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in Unlimited) settings[key.Replace(":", "__")] = value;
        foreach (var (key, value) in extra) settings[key] = value;
        await SetupAsync(output, settings);
        return await BackendProcess.StartAsync(Binary, [], output, settings);
    }

    /// <summary>As a deployment does: the owner role's <c>resources setup</c>, then the backend as the application role.</summary>
    private static async Task SetupAsync(string output, IReadOnlyDictionary<string, string?> settings)
    {
        var info = new ProcessStartInfo(Binary, ["resources", "setup"]) { WorkingDirectory = output, RedirectStandardOutput = true };
        foreach (var (key, value) in settings) info.Environment[key] = value;
        using var setup = Process.Start(info)!;
        var log = setup.StandardOutput.ReadToEndAsync();
        await setup.WaitForExitAsync();
        if (setup.ExitCode != 0) throw new InvalidOperationException($"resources setup failed:\n{await log}");
    }

    /// <summary>
    /// Where the backend is published: inside this checkout's build output, so that benchmarks run from two worktrees
    /// (whose <c>.pantheon</c> may be one shared directory) never publish over each other.
    /// </summary>
    public static string PublishDirectory => Path.Combine(AppContext.BaseDirectory, "backend");

    /// <summary>The published backend's executable.</summary>
    public static string Binary => Path.Combine(PublishDirectory, "Pantheon.Web");

    /// <summary>A benchmark measures what the backend adds, not its limits: one user's load goes far past every default.</summary>
    public static readonly IReadOnlyDictionary<string, string> Unlimited = new Dictionary<string, string>
    {
        ["RateLimits:Api:TokenLimit"] = "1000000", ["RateLimits:Api:TokensPerPeriod"] = "1000000",
        ["RateLimits:Chat:TokenLimit"] = "1000000", ["RateLimits:Chat:TokensPerPeriod"] = "1000000",
        ["RateLimits:Projects:TokenLimit"] = "1000000", ["RateLimits:Projects:TokensPerPeriod"] = "1000000",
        ["Limits:ProjectsPerUser"] = "100000", ["Limits:ConcurrentChatsPerUser"] = "100000", ["Limits:WebSocketsPerUser"] = "100000",
    };

    public static string Root()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pantheon.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Pantheon.sln not found");
    }
}
