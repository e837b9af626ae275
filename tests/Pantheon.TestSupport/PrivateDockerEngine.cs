using System.Diagnostics;

namespace Pantheon.TestSupport;

/// <summary>
/// A Docker engine of a test's own, which it may stop and start: a second <c>dockerd</c> with its own data root, exec
/// root, socket, pid file and default bridge, and no iptables rules, so it cannot clash with the engine everyone else
/// uses. Its default bridge is one it is given (<see cref="Bridge"/>), not <c>none</c>: a <c>dockerd</c> started with
/// <c>--bridge=none</c> deletes an existing <c>docker0</c> (moby/moby#26989), which is the shared engine's. It runs with <c>--live-restore</c>: stopping it takes the API away, not the containers (as a production engine
/// restart does). The test images are copied in from the shared engine (<c>docker save | docker load</c>) when missing.
/// </summary>
public sealed class PrivateDockerEngine : IAsyncDisposable
{
    private readonly string _root;
    private Process? _daemon;

    /// <summary>The engine's socket, as <c>Docker:Endpoint</c> takes it.</summary>
    public string Endpoint => $"unix://{Socket}";

    /// <summary>The engine's default bridge, made for it (a name of at most 15 characters, derived from its root).</summary>
    public string Bridge => $"pte{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(_root)))[..8]}";

    // The bridge's address, in the range reserved for benchmarks (RFC 2544): never routed anywhere.
    private string BridgeAddress => $"198.18.{Convert.ToInt32(Bridge[3..5], 16)}.1/24";

    private string Socket => Path.Combine(_root, "docker.sock");
    private string LogFile => Path.Combine(_root, "dockerd.log");

    private PrivateDockerEngine(string root) => _root = root;

    /// <summary>
    /// Starts the engine under <c>/tmp/{name}</c> (kept between runs, so images are loaded once) and loads
    /// <paramref name="images"/> from <paramref name="sharedEndpoint"/> where this engine lacks them or has another build.
    /// </summary>
    public static async Task<PrivateDockerEngine> StartAsync(string name, string sharedEndpoint, IEnumerable<string> images)
    {
        var engine = new PrivateDockerEngine(Path.Combine("/tmp", name)); // short: a unix socket path has at most 107 bytes
        Directory.CreateDirectory(engine._root);
        await engine.StartAsync();
        foreach (var image in images)
        {
            var wanted = await RunAsync("docker", ["-H", sharedEndpoint, "image", "inspect", "-f", "{{.Id}}", image]);
            var present = await RunAsync("docker", ["-H", engine.Endpoint, "image", "inspect", "-f", "{{.Id}}", image], check: false);
            if (present.Trim() == wanted.Trim()) continue;
            var copy = $"set -o pipefail; docker -H '{sharedEndpoint}' save '{image}' | docker -H '{engine.Endpoint}' load -q";
            await RunAsync("bash", ["-c", copy]);
        }
        return engine;
    }

    /// <summary>Starts the daemon (again) and waits until its API answers.</summary>
    public async Task StartAsync()
    {
        if (_daemon is { HasExited: false }) throw new InvalidOperationException("The private engine is already running.");
        await RunAsync("sh", ["-c", $"ip link show {Bridge} >/dev/null 2>&1 || ip link add name {Bridge} type bridge"]);
        await RunAsync("ip", ["addr", "replace", BridgeAddress, "dev", Bridge]);
        await RunAsync("ip", ["link", "set", Bridge, "up"]);
        var config = Path.Combine(_root, "daemon.json");
        await File.WriteAllTextAsync(config, "{}"); // not the machine's /etc/docker/daemon.json
        var info = new ProcessStartInfo("dockerd",
        [
            "--config-file", config, "--data-root", Path.Combine(_root, "data"), "--exec-root", Path.Combine(_root, "exec"),
            "-H", Endpoint, "--pidfile", Path.Combine(_root, "docker.pid"), $"--bridge={Bridge}", "--iptables=false", "--ip-masq=false",
            "--live-restore", "--shutdown-timeout=2",
        ])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        var log = new StreamWriter(LogFile, append: true) { AutoFlush = true };
        _daemon = new Process { StartInfo = info };
        _daemon.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _daemon.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _daemon.Start();
        _daemon.BeginOutputReadLine();
        _daemon.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (await RunAsync("docker", ["-H", Endpoint, "version", "-f", "{{.Server.Version}}"], check: false) is not { Length: > 0 })
        {
            if (_daemon.HasExited) throw new InvalidOperationException($"dockerd exited with {_daemon.ExitCode}; see {LogFile}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The private engine did not answer within 90 s; see {LogFile}");
            await Task.Delay(200);
        }
    }

    /// <summary>Stops the daemon as a service manager does (SIGTERM) and waits for it to exit; containers keep running.</summary>
    public async Task StopAsync()
    {
        if (_daemon is null || _daemon.HasExited) return;
        await RunAsync("kill", ["-TERM", _daemon.Id.ToString()]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _daemon.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Whether a command succeeds on this machine (the engine's bridge, its processes).</summary>
    public async Task<bool> RunsAsync(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await process.WaitForExitAsync();
        return process.ExitCode == 0;
    }

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> arguments, bool check = true)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode == 0) return await output;
        if (check)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await errors}");
        return "";
    }

    /// <summary>
    /// Stops the daemon and removes its bridge. Its containers of this run are the test's to remove first (by label, while
    /// the API answers); the data root stays for the next run's images.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_daemon is null) return;
        await StopAsync();
        _daemon.Dispose();
        await RunAsync("ip", ["link", "del", Bridge]);
    }
}
