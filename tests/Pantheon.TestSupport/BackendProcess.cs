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
    private readonly ProcessStartInfo _info;
    private Process _process;

    public Uri Url { get; }

    private BackendProcess(ProcessStartInfo info, Process process, Uri url) => (_info, _process, Url) = (info, process, url);

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
        var url = new Uri($"http://127.0.0.1:{port}");
        return new BackendProcess(info, await Launch(info, url), url);
    }

    /// <summary>Kills the process at once (SIGKILL: no shutdown, nothing flushed), as a crash or <c>kill -9</c> would.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>Starts the process again after <see cref="KillAsync"/>: same settings, same port; waits for <c>/health</c>.</summary>
    public async Task RestartAsync()
    {
        if (!_process.HasExited) throw new InvalidOperationException("The backend is still running: kill it first.");
        _process.Dispose();
        _process = await Launch(_info, Url);
    }

    private static async Task<Process> Launch(ProcessStartInfo info, Uri url)
    {
        var process = Process.Start(info)!;
        _ = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();

        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(180); // a loaded machine (CI, parallel runs) may take minutes
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"The backend exited with {process.ExitCode}: {await errors}");
            try
            {
                if ((await http.GetAsync(new Uri(url, "/health"))).IsSuccessStatusCode) return process;
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
