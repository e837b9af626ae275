using System.Diagnostics;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>Runs the backend's command line (codegen, audit, projections) as an operator would, in its own process.</summary>
public static class PantheonCli
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(IReadOnlyDictionary<string, string?> settings, params string[] args)
    {
        using var process = Start(settings, args);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        return (process.ExitCode, await output, await error);
    }

    /// <summary>The command line started, its standard output and error redirected for the caller to read.</summary>
    public static Process Start(IReadOnlyDictionary<string, string?> settings, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Pantheon.Web.dll"), .. args])
        {
            WorkingDirectory = Path.Combine(RepositoryRoot(), "src", "Pantheon.Web"),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        foreach (var (key, value) in settings) info.Environment[key.Replace(":", "__")] = value ?? "";
        return Process.Start(info)!;
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pantheon.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Pantheon.sln not found above " + AppContext.BaseDirectory);
    }
}
