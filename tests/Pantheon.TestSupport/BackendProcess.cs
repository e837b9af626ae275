using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pantheon.TestSupport;

/// <summary>
/// The backend as its own process on a real loopback port: for clients that cannot use an in-memory test server
/// (a browser, a WebSocket load, a latency measurement).
/// </summary>
public sealed class BackendProcess : IAsyncDisposable
{
    private readonly Process _process;

    public Uri Url { get; }

    private BackendProcess(Process process, Uri url) => (_process, Url) = (process, url);

    /// <summary>Starts <paramref name="fileName"/> with the environment given, on a free port, and waits for <c>/health</c>.</summary>
    public static async Task<BackendProcess> StartAsync(string fileName, IEnumerable<string> arguments, string workingDirectory,
        IEnumerable<KeyValuePair<string, string?>> environment)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var info = new ProcessStartInfo(fileName, arguments) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment) info.Environment[key.Replace(":", "__")] = value ?? "";
        info.Environment["Urls"] = $"http://127.0.0.1:{port}";
        var process = Process.Start(info)!;
        _ = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();

        var url = new Uri($"http://127.0.0.1:{port}");
        using var http = new HttpClient();
        // Generous: on a machine shared by many builds a cold start of the backend has taken more than a minute.
        var deadline = DateTime.UtcNow.AddSeconds(180);
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
