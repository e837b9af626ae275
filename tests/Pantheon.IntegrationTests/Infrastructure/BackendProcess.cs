using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>The backend as its own process on a real loopback port, for clients that cannot use the in-memory test server (a browser).</summary>
public sealed class BackendProcess : IAsyncDisposable
{
    private readonly Process _process;

    public Uri Url { get; }

    private BackendProcess(Process process, Uri url) => (_process, Url) = (process, url);

    public static async Task<BackendProcess> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Pantheon.Web.dll")])
        {
            WorkingDirectory = Path.Combine(PantheonCli.RepositoryRoot(), "src", "Pantheon.Web"),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        info.Environment["Urls"] = $"http://127.0.0.1:{port}";
        foreach (var (key, value) in settings) info.Environment[key.Replace(":", "__")] = value ?? "";
        var process = Process.Start(info)!;
        _ = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();

        var url = new Uri($"http://127.0.0.1:{port}");
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"The backend exited with {process.ExitCode}: {await errors}");
            try
            {
                if ((await http.GetAsync(new Uri(url, "/health"))).IsSuccessStatusCode) return new BackendProcess(process, url);
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
}
