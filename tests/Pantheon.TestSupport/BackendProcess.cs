using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pantheon.TestSupport;

/// <summary>
/// The backend as its own process on a real loopback port: for clients that cannot use an in-memory test server
/// (a browser, a WebSocket load, a latency measurement), and for faults that only a real process has: it can be
/// killed without grace (<see cref="Kill"/>) and started again on the same settings and port (<see cref="RestartAsync"/>).
/// </summary>
public sealed class BackendProcess : IAsyncDisposable
{
    private readonly ProcessStartInfo _start;
    private readonly ConcurrentQueue<string> _log = new();
    private Process _process;

    public Uri Url { get; }

    /// <summary>The operating system's id of the running process.</summary>
    public int Pid => _process.Id;

    /// <summary>When the running process was started (the last <see cref="RestartAsync"/>, if any).</summary>
    public DateTimeOffset StartedAt { get; private set; }

    /// <summary>When the running process first answered <c>/health</c>.</summary>
    public DateTimeOffset HealthyAt { get; private set; }

    public bool HasExited => _process.HasExited;

    private BackendProcess(ProcessStartInfo start, Uri url)
    {
        (_start, Url) = (start, url);
        _process = null!;
    }

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
        var backend = new BackendProcess(info, new Uri($"http://127.0.0.1:{port}"));
        await backend.RunAsync();
        return backend;
    }

    /// <summary>Everything the process (and the ones before it, after a restart) wrote to stdout and stderr, in order.</summary>
    public string Log => string.Join('\n', _log);

    /// <summary><c>kill -9</c>: no shutdown, no release of anything; returns once the process is gone.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _log.Enqueue($"[test] process {_process.Id} killed at {DateTimeOffset.UtcNow:O}");
    }

    /// <summary>Starts the process again on the same settings and port (after <see cref="Kill"/>) and waits for <c>/health</c>.</summary>
    public Task RestartAsync()
    {
        if (!_process.HasExited) throw new InvalidOperationException("The backend is still running; kill it first.");
        return RunAsync();
    }

    private async Task RunAsync()
    {
        StartedAt = DateTimeOffset.UtcNow;
        var process = new Process { StartInfo = _start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        using var http = new HttpClient();
        // Generous: on a machine shared by many builds a cold start of the backend has taken more than a minute.
        var deadline = DateTime.UtcNow.AddSeconds(180);
        while (true)
        {
            if (process.HasExited)
            {
                process.WaitForExit(); // the last lines of output
                throw new InvalidOperationException($"The backend exited with {process.ExitCode}: {Tail()}");
            }
            try
            {
                if ((await http.GetAsync(new Uri(Url, "/health"))).IsSuccessStatusCode)
                {
                    HealthyAt = DateTimeOffset.UtcNow;
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The backend did not answer /health within 180 s: {Tail()}");
            await Task.Delay(100);
        }
    }

    private string Tail() => string.Join('\n', _log.TakeLast(40));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
