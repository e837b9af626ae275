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

        await using var backend = await Backend.StartAsync(settings);
        await using var writer = await AlbaHost.For<Pantheon.Web.PantheonAppMarker>(b =>
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
        });
        var store = writer.Services.GetRequiredService<IDocumentStore>();

        await Delay(backend, store, events, clients);
        await Export(store, connection, exportEvents);
    }

    private static async Task Delay(BackendProcess backend, IDocumentStore store, int events, int clients)
    {
        var user = $"bench-live-{Guid.NewGuid():N}";
        var token = DevTokens.Mint(new AuthSettings { Issuer = "pantheon-bench", Audience = "pantheon", SigningKey = SigningKey }, user);
        var committed = new ConcurrentDictionary<Guid, long>();
        var delays = new ConcurrentBag<double>();
        var received = 0;
        using var stop = new CancellationTokenSource();

        var sockets = new List<ClientWebSocket>();
        for (var i = 0; i < clients; i++)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri($"ws://{backend.Url.Authority}/ws?access_token={token}"), CancellationToken.None);
            await socket.SendAsync(Encoding.UTF8.GetBytes("""{"type":"subscribe","channel":"project-updates"}"""), WebSocketMessageType.Text, true, CancellationToken.None);
            sockets.Add(socket);
        }
        var readers = sockets.Select(socket => Task.Run(async () =>
        {
            var buffer = new byte[8192];
            while (!stop.IsCancellationRequested)
            {
                var result = await socket.ReceiveAsync(buffer, stop.Token);
                var arrived = Stopwatch.GetTimestamp();
                using var message = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
                if (message.RootElement.GetProperty("type").GetString() != "project-updated") continue;
                var id = message.RootElement.GetProperty("project_id").GetGuid();
                while (!committed.TryGetValue(id, out _)) await Task.Yield(); // the commit clock is read just before the commit returns
                delays.Add(Stopwatch.GetElapsedTime(committed[id], arrived).TotalMilliseconds);
                Interlocked.Increment(ref received);
            }
        })).ToList();

        for (var i = 0; i < events; i++)
        {
            var id = Guid.CreateVersion7();
            await using var session = store.LightweightSession();
            session.Events.StartStream(id, new ProjectRequested(id, user, "bench", ProjectOs.Windows11, DateTimeOffset.UtcNow));
            var before = Stopwatch.GetTimestamp();
            committed[id] = before;
            await session.SaveChangesAsync();
            await Task.Delay(2);
        }
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Volatile.Read(ref received) < events * clients && DateTime.UtcNow < deadline) await Task.Delay(50);
        await stop.CancelAsync();
        foreach (var socket in sockets) socket.Abort();
        await Task.WhenAll(readers.Select(r => r.ContinueWith(_ => { })));

        var sorted = delays.Order().ToList();
        Console.WriteLine($"live: {events} events x {clients} clients, {sorted.Count} messages received; commit -> client delay " +
                          $"median {sorted[sorted.Count / 2]:F2} ms, p99 {sorted[(int)Math.Ceiling(sorted.Count * 0.99) - 1]:F2} ms");
    }

    private static async Task Export(IDocumentStore store, string connection, int wanted)
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

        var binary = Backend.Binary;
        async Task<(TimeSpan Elapsed, long Lines)> Run(params string[] args)
        {
            var info = new ProcessStartInfo(binary, ["audit", "export", .. args]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(binary)! };
            info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            info.Environment["ConnectionStrings__Marten"] = connection;
            info.Environment["MCP_MASTER_SECRET"] = "benchmark-master-secret-0123456789abcdef";
            info.Environment["Auth__Issuer"] = "pantheon-bench";
            info.Environment["Auth__SigningKey"] = SigningKey;
            info.Environment["Auth__AllowSymmetricKey"] = "true";
            info.Environment["Projects__ReconcilerEnabled"] = "false";
            var watch = Stopwatch.StartNew();
            using var process = Process.Start(info)!;
            _ = process.StandardError.ReadToEndAsync();
            long lines = 0;
            while (await process.StandardOutput.ReadLineAsync() is not null) lines++;
            await process.WaitForExitAsync();
            return (watch.Elapsed, lines);
        }
        var (startup, _) = await Run("--stream", Guid.NewGuid().ToString()); // the same process exporting nothing
        var (elapsed, count) = await Run();
        Console.WriteLine($"export: {count} events in {elapsed.TotalSeconds:F2} s ({count / elapsed.TotalSeconds:F0} events/s end to end; " +
                          $"{count / (elapsed - startup).TotalSeconds:F0} events/s past the {startup.TotalSeconds:F2} s start-up)");
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
