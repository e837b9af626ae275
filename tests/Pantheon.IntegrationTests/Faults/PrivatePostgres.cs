using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>
/// A PostgreSQL cluster of a test's own (initdb into a temporary folder, its own loopback port), so that the test may stop
/// and restart it: the shared cluster is never touched. The server runs as the <c>postgres</c> system user when the tests
/// run as root (initdb and postgres refuse root), from the binaries in <c>/usr/local/bin</c> (else on the PATH).
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _root;
    private readonly string _data;
    private readonly string _bin;

    public int Port { get; }

    /// <summary>The cluster's <c>postgres</c> database as the <c>postgres</c> user.</summary>
    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port};Database=postgres;Username=postgres;Password=postgres;Maximum Pool Size=40;Timeout=5";

    /// <summary>For the test's own queries: unpooled, so that no connection the restart broke is handed out again.</summary>
    public string TestConnectionString => ConnectionString + ";Pooling=false";

    private PrivatePostgres(string root, string bin, int port) =>
        (_root, _data, _bin, Port) = (root, Path.Combine(root, "data"), bin, port);

    public static async Task<PrivatePostgres> StartAsync()
    {
        var bin = File.Exists("/usr/local/bin/initdb") ? "/usr/local/bin" : "";
        var root = Path.Combine(Path.GetTempPath(), $"pantheon-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var cluster = new PrivatePostgres(root, bin, port);
        if (Environment.UserName == "root") await Run("chown", "postgres:", root);
        await cluster.Pg("initdb", "-D", cluster._data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8");
        await File.AppendAllTextAsync(Path.Combine(cluster._data, "postgresql.conf"), $"""

            listen_addresses = '127.0.0.1'
            port = {port}
            unix_socket_directories = '{root}'
            max_connections = 200
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            """);
        await cluster.StartServerAsync();
        return cluster;
    }

    /// <summary>Stops the server the way an operator's restart does (fast: clients are disconnected).</summary>
    public Task StopAsync() => Pg("pg_ctl", "-D", _data, "-m", "fast", "-w", "-t", "60", "stop");

    /// <summary>Starts the server and waits until it accepts connections.</summary>
    public async Task StartServerAsync()
    {
        await Pg("pg_ctl", "-D", _data, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "60", "start");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(TestConnectionString);
                await connection.OpenAsync();
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100); // starting up
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Pg("pg_ctl", "-D", _data, "-m", "immediate", "-w", "-t", "60", "stop");
        Directory.Delete(_root, recursive: true);
    }

    private Task Pg(string program, params string[] arguments)
    {
        var path = _bin.Length > 0 ? Path.Combine(_bin, program) : program;
        return Environment.UserName == "root" ? Run("runuser", ["-u", "postgres", "--", path, .. arguments]) : Run(path, arguments);
    }

    private static async Task Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await errors}");
    }
}
