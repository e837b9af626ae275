using System.Diagnostics;
using System.Net;

namespace Pantheon.Benchmarks;

/// <summary>The backend as a published Release process on a free loopback port.</summary>
public sealed class Backend : IAsyncDisposable
{
    private readonly Process _process;
    public Uri Url { get; }

    private Backend(Process process, Uri url) => (_process, Url) = (process, url);

    public static async Task<Backend> StartAsync(IReadOnlyDictionary<string, string> extra)
    {
        var root = Root();
        var output = Path.Combine(root, ".pantheon", "bench", "web");
        var publish = Process.Start("dotnet", ["publish", Path.Combine(root, "src", "Pantheon.Web"), "-c", "Release", "-o", output, "--nologo", "-v", "quiet"])!;
        await publish.WaitForExitAsync();
        if (publish.ExitCode != 0) throw new InvalidOperationException("dotnet publish failed");

        var port = FreePort();
        var info = new ProcessStartInfo(Path.Combine(output, "Pantheon.Web")) { WorkingDirectory = output, RedirectStandardOutput = true, RedirectStandardError = true };
        var connection = extra.TryGetValue("ConnectionStrings__Marten", out var chosen) ? chosen : Environment.GetEnvironmentVariable("ConnectionStrings__Marten")
            ?? "Host=127.0.0.1;Port=5433;Database=pantheon;Username=postgres;Password=postgres";
        foreach (var (key, value) in new Dictionary<string, string>
                 {
                     ["ASPNETCORE_ENVIRONMENT"] = "Production", ["Urls"] = $"http://127.0.0.1:{port}", ["ConnectionStrings__Marten"] = connection,
                     ["MCP_MASTER_SECRET"] = "benchmark-master-secret-0123456789abcdef", ["Projects__ReconcilerEnabled"] = "false",
                     ["Logging__LogLevel__Default"] = "Warning",
                 }.Where(kv => !extra.ContainsKey(kv.Key)).Concat(extra))
            info.Environment[key] = value;
        var process = Process.Start(info)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var url = new Uri($"http://127.0.0.1:{port}");
        using var probe = new HttpClient();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"The backend exited with {process.ExitCode}.");
            try
            {
                if ((await probe.GetAsync(new Uri(url, "/health"))).IsSuccessStatusCode) return new Backend(process, url);
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100); // not listening yet
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string Root()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pantheon.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Pantheon.sln not found");
    }
}
