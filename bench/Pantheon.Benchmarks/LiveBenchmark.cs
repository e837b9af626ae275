using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Alba;
using Marten;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.Domain.Projects;
using Pantheon.TestSupport;
using Pantheon.Domain.Users;
using Pantheon.Web.Auth;

namespace Pantheon.Benchmarks;

/// <summary>
/// Live updates: the delay from an event's commit to its WebSocket message at the client (1,000 events, 50 clients
/// on a backend process of its own), and <c>audit export</c> throughput over 100,000 events. Events are appended by an
/// in-process host with the app's own store configuration, so the commit-side clock and the client clock are one.
/// </summary>
public static class LiveBenchmark
{
    private const string SigningKey = "benchmark-signing-key-0123456789abcdef";

    public static async Task RunAsync(string[] args)
    {
        var events = args.Length > 0 ? int.Parse(args[0]) : 1000;
        var clients = args.Length > 1 ? int.Parse(args[1]) : 50;
        var exportEvents = args.Length > 2 ? int.Parse(args[2]) : 100_000;
        var connection = await Database();
        var settings = new Dictionary<string, string> { ["ConnectionStrings__Marten"] = connection, ["Auth__Issuer"] = "pantheon-bench", ["Auth__SigningKey"] = SigningKey };

        // The export is timed once both hosts are gone: their daemons, agents and listeners kept working beside it (the audit
        // projection catching up on the events just written, say), which is the hosts' cost, not the export's.
        await using (var backend = await Backend.StartAsync(settings))
        await using (var writer = await AlbaHost.For<Pantheon.Web.PantheonAppMarker>(b =>
        {
            b.UseSolutionRelativeContentRoot("src/Pantheon.Web");
            b.UseSetting("environment", "Production");
            b.UseSetting("ConnectionStrings:Marten", connection);
            b.UseSetting("MCP_MASTER_SECRET", "benchmark-master-secret-0123456789abcdef");
            b.UseSetting("Auth:Issuer", "pantheon-bench");
            b.UseSetting("Auth:SigningKey", SigningKey);
            b.UseSetting("Auth:AllowSymmetricKey", "true");
            b.UseSetting("Projects:ReconcilerEnabled", "false");
            b.UseSetting("Logging:LogLevel:Default", "Warning");
        }))
        {
            var store = writer.Services.GetRequiredService<IDocumentStore>();
            await Delay(backend, store, events, clients);
            await Fill(store, exportEvents);
        }
        await Export(connection);
    }

    private static async Task Delay(BackendProcess backend, IDocumentStore store, int events, int clients)
    {
        var user = $"bench-live-{Guid.NewGuid():N}";
        var token = DevTokens.Mint(new AuthSettings { Issuer = "pantheon-bench", Audience = "pantheon", SigningKey = SigningKey }, user);
        var committed = new ConcurrentDictionary<Guid, long>();
        var measured = new ConcurrentDictionary<Guid, bool>();
        var delays = new ConcurrentBag<double>();
        var (received, early) = (0, 0);
        using var stop = new CancellationTokenSource();

        var sockets = new List<ClientWebSocket>();
        for (var i = 0; i < clients; i++)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri($"ws://{backend.Url.Authority}/ws?access_token={token}"), CancellationToken.None);
            await socket.SendAsync(Encoding.UTF8.GetBytes("""{"type":"subscribe","channel":"project-updates"}"""), WebSocketMessageType.Text, true, CancellationToken.None);
            sockets.Add(socket);
        }
        var acknowledged = 0;
        var readers = sockets.Select(socket => Task.Run(async () =>
        {
            var buffer = new byte[8192];
            while (!stop.IsCancellationRequested)
            {
                var result = await socket.ReceiveAsync(buffer, stop.Token);
                var arrived = Stopwatch.GetTimestamp();
                using var message = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
                var type = message.RootElement.GetProperty("type").GetString();
                if (type == "subscribed") Interlocked.Increment(ref acknowledged);
                if (type != "project-updated") continue;
                var id = message.RootElement.GetProperty("project_id").GetGuid();
                // The commit clock is read once the commit has returned, so wait for it; a message that came sooner counts 0.
                long at;
                while (!committed.TryGetValue(id, out at)) await Task.Yield();
                if (measured.ContainsKey(id))
                {
                    var delay = Stopwatch.GetElapsedTime(at, arrived).TotalMilliseconds;
                    if (delay < 0) Interlocked.Increment(ref early);
                    delays.Add(Math.Max(0, delay));
                }
                Interlocked.Increment(ref received);
            }
        })).ToList();
        await Until(() => Volatile.Read(ref acknowledged) == clients, "every client's subscription to be acknowledged");

        async Task Commit(bool measure)
        {
            var id = Guid.CreateVersion7();
            await using var session = store.LightweightSession();
            session.Events.StartStream(id, new ProjectRequested(id, user, "bench", ProjectOs.Windows11, DateTimeOffset.UtcNow));
            if (measure) measured[id] = true;
            await session.SaveChangesAsync();
            committed[id] = Stopwatch.GetTimestamp(); // the commit has returned: from here on the event is committed
        }

        // Warm-up, unmeasured: JIT, connection pools and the hub's first deliveries, each to every client.
        const int WarmUp = 50;
        for (var i = 0; i < WarmUp; i++) await Commit(measure: false);
        await Until(() => Volatile.Read(ref received) >= WarmUp * clients, "the warm-up events at every client");

        for (var i = 0; i < events; i++)
        {
            await Commit(measure: true);
            await Task.Delay(2);
        }
        await Until(() => Volatile.Read(ref received) >= (WarmUp + events) * clients, "every event at every client");
        await stop.CancelAsync();
        foreach (var socket in sockets) socket.Abort();
        await Task.WhenAll(readers.Select(r => r.ContinueWith(_ => { })));

        var sorted = delays.Order().ToList();
        double Percentile(double p) => sorted[(int)Math.Ceiling(p * sorted.Count) - 1];
        Console.WriteLine($"live: {events} events x {clients} clients after {WarmUp} warm-up events, {sorted.Count} samples; commit returned -> client " +
                          $"delay p50 {Percentile(0.5):F2} ms, p90 {Percentile(0.9):F2} ms, p99 {Percentile(0.99):F2} ms, max {sorted[^1]:F2} ms " +
                          $"({early} messages arrived before their commit returned, counted as 0)");
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for {what}.");
            await Task.Delay(20);
        }
    }

    /// <summary>Appends events until the store holds <paramref name="wanted"/>.</summary>
    private static async Task Fill(IDocumentStore store, int wanted)
    {
        await using (var query = store.QuerySession())
        {
            var have = await query.Events.QueryAllRawEvents().CountAsync();
            for (var added = have; added < wanted; added += 2000)
            {
                await using var session = store.LightweightSession();
                for (var i = 0; i < 20; i++)
                {
                    var subject = $"export-{Guid.NewGuid():N}";
                    session.Events.Append(UserId.StreamFor(subject),
                        Enumerable.Range(0, 100).Select(n => (object)new UserProfileChanged(subject, $"{n}@example.com", "Export", null, DateTimeOffset.UtcNow)).ToArray());
                }
                await session.SaveChangesAsync();
            }
        }
    }

    private static async Task Export(string connection)
    {
        var binary = Backend.Binary;
        // Peak RSS from GNU time (%M, KiB): the export's memory must stay flat whatever the number of events.
        async Task<(TimeSpan Elapsed, long Lines, long PeakKiB)> Run(params string[] args)
        {
            var info = new ProcessStartInfo("/usr/bin/time", ["-f", "peak-rss-kib %M", binary, "audit", "export", .. args])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(binary)!,
            };
            info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            info.Environment["ConnectionStrings__Marten"] = connection;
            info.Environment["MCP_MASTER_SECRET"] = "benchmark-master-secret-0123456789abcdef";
            info.Environment["Auth__Issuer"] = "pantheon-bench";
            info.Environment["Auth__SigningKey"] = SigningKey;
            info.Environment["Auth__AllowSymmetricKey"] = "true";
            info.Environment["Projects__ReconcilerEnabled"] = "false";
            var watch = Stopwatch.StartNew();
            using var process = Process.Start(info)!;
            var errors = process.StandardError.ReadToEndAsync();
            // Read as `wc -l` would, on one thread of its own: an async read loop hands each 64 KiB to the thread pool and
            // back, and on two cores that competed with the export it was timing.
            var lines = await Task.Factory.StartNew(() =>
            {
                var output = process.StandardOutput.BaseStream;
                var buffer = new byte[1 << 16];
                long count = 0;
                int read;
                while ((read = output.Read(buffer)) > 0) count += buffer.AsSpan(0, read).Count((byte)'\n');
                return count;
            }, TaskCreationOptions.LongRunning);
            await process.WaitForExitAsync();
            var elapsed = watch.Elapsed;
            var error = await errors;
            if (process.ExitCode != 0) throw new InvalidOperationException($"audit export exited with {process.ExitCode}: {error}");
            var peak = error.Split('\n').Where(l => l.StartsWith("peak-rss-kib ")).Select(l => long.Parse(l[13..])).Single();
            return (elapsed, lines, peak);
        }
        for (var run = 1; run <= 3; run++)
        {
            var (startup, _, emptyPeak) = await Run("--stream", Guid.NewGuid().ToString()); // the same process exporting nothing
            var (elapsed, count, peak) = await Run();
            Console.WriteLine($"export run {run}: {count} events in {elapsed.TotalSeconds:F2} s ({count / elapsed.TotalSeconds:F0} events/s end to end; " +
                              $"{count / (elapsed - startup).TotalSeconds:F0} events/s past the {startup.TotalSeconds:F2} s start-up); " +
                              $"peak RSS {peak / 1024.0:F1} MiB (exporting nothing: {emptyPeak / 1024.0:F1} MiB)");
        }
    }

    /// <summary>The database of <c>ConnectionStrings__Marten</c> when it is set (so that runs can be kept apart), else <c>pantheon_bench</c>; made when missing.</summary>
    private static async Task<string> Database()
    {
        var given = Environment.GetEnvironmentVariable("ConnectionStrings__Marten");
        var baseConnection = given ?? "Host=127.0.0.1;Port=5433;Database=pantheon;Username=postgres;Password=postgres";
        var name = given is null ? "pantheon_bench" : new NpgsqlConnectionStringBuilder(given).Database!;
        var admin = new NpgsqlConnectionStringBuilder(baseConnection) { Database = "postgres" }.ConnectionString;
        await using var db = new NpgsqlConnection(admin);
        await db.OpenAsync();
        await using var exists = new NpgsqlCommand("select 1 from pg_database where datname = @n", db);
        exists.Parameters.AddWithValue("n", name);
        if (await exists.ExecuteScalarAsync() is null)
        {
            await using var create = new NpgsqlCommand($"create database \"{name}\"", db);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(baseConnection) { Database = name }.ConnectionString;
    }
}
