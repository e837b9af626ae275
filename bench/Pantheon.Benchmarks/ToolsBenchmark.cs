using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Docker.DotNet.Models;
using JasperFx;
using Marten;
using ModelContextProtocol.Client;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Keys;
using Pantheon.Handlers.Projects;
using Pantheon.Projections.Projects;
using Pantheon.Tools;
using Pantheon.Tools.Files;
using Pantheon.Tools.Screen;

namespace Pantheon.Benchmarks;

/// <summary>
/// The tools API: a <c>screenshot</c> of the desktop test VM (1024x768) and a <c>list_files</c> through the official C#
/// MCP client and the tools process (authentication, the call recorded as two events), against the same operation done
/// directly in process (our RFB client and PNG encoder; the same file listing), alternating one of each.
/// </summary>
public static class ToolsBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var calls = args.Length > 0 ? int.Parse(args[0]) : 100;
        const string secret = "benchmark-master-secret-0123456789abcdef";
        var connection = Environment.GetEnvironmentVariable("PANTHEON_BENCH_CONNECTION")
            ?? "Host=127.0.0.1;Port=5433;Database=pantheon_bench_tools;Username=postgres;Password=postgres";
        await EnsureDatabaseAsync(connection);
        using var store = DocumentStore.For(o =>
        {
            o.Connection(connection);
            o.DatabaseSchemaName = "pantheon";
            o.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
            o.UseSystemTextJsonForSerialization(Weasel.Core.EnumStorage.AsString, Weasel.Core.Casing.Default);
            o.Events.MetadataConfig.CorrelationIdEnabled = o.Events.MetadataConfig.CausationIdEnabled = true;
            o.Events.MetadataConfig.HeadersEnabled = o.Events.MetadataConfig.UserNameEnabled = true;
            o.Schema.For<ProjectView>().Index(x => x.OwnerId);
        });
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();

        using var docker = new DockerClientConfiguration(new Uri("unix:///var/run/docker.sock")).CreateClient();
        var name = $"pantheon-bench-desktop-{Guid.NewGuid():N}"[..36];
        var labels = new Dictionary<string, string> { [PantheonLabels.Instance] = "pantheon-bench" };
        // A network of its own (the engine may have no default bridge); the host reaches the VM through it, as the tools do.
        var network = await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = name, Driver = "bridge", Internal = true, Labels = labels,
            IPAM = new IPAM { Config = [new IPAMConfig { Subnet = "172.31.254.0/24", Gateway = "172.31.254.254" }] },
        });
        var container = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = "pantheon/test-desktop:latest", Name = name, Labels = labels,
            HostConfig = new HostConfig { NetworkMode = name },
            NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [name] = new() { IPAMConfig = new() { IPv4Address = "172.31.254.2" } } },
            },
        });
        var dataRoot = Path.Combine(Path.GetTempPath(), "pantheon-bench-tools");
        try
        {
            await docker.Containers.StartContainerAsync(container.ID, new ContainerStartParameters());
            const string ip = "172.31.254.2";
            var settings = new ToolsSettings { ScreenTimeoutSeconds = 30 };
            var vmScreen = new VmScreen(settings);

            var id = Guid.CreateVersion7();
            await using (var session = store.LightweightSession())
            {
                session.Store(new ProjectView { Id = id, OwnerId = "bench", Name = "bench", Status = ProjectStatus.Ready, Subnet = "172.31.254.0/24",
                    VmAddress = ip });
                await session.SaveChangesAsync();
            }
            var project = new Pantheon.Tools.Projects.ToolProject(id, "bench", "bench", ProjectStatus.Ready, Subnet.Parse("172.31.254.0/24"), null, ip, null);
            var projectSettings = new ProjectSettings { DataRoot = dataRoot };
            Directory.CreateDirectory(projectSettings.FolderFor(id));
            for (var i = 0; i < 20; i++) await File.WriteAllTextAsync(Path.Combine(projectSettings.FolderFor(id), $"file-{i}.txt"), "x");
            var files = new SharedFolderFiles(projectSettings, settings);

            // The desktop is up when its VNC server answers a screenshot.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try { await vmScreen.CaptureAsync(project, default); break; }
                catch (ScreenToolException) when (DateTime.UtcNow < deadline) { await Task.Delay(200); }
            }

            var port = FreePort();
            await using var tools = ToolsApp.Build(["--environment", "Production"], new Dictionary<string, string?>
            {
                ["ConnectionStrings:Marten"] = connection, ["MCP_MASTER_SECRET"] = secret, ["Projects:DataRoot"] = dataRoot,
                ["Tools:Urls"] = $"http://127.0.0.1:{port}", ["Tools:ScreenTimeoutSeconds"] = "30", ["Logging:LogLevel:Default"] = "Warning",
            });
            await tools.StartAsync();
            var projectSecret = new SharedFolders(projectSettings, MasterSecret.From(secret, false)).ProjectSecret(id);
            await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = new Uri($"http://127.0.0.1:{port}/"), TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {projectSecret}" },
            }));

            await Compare("screenshot", calls,
                async () => { var r = await client.CallToolAsync("screenshot"); if (r.IsError == true) throw new InvalidOperationException("screenshot failed"); },
                async () => await vmScreen.CaptureAsync(project, default));
            await Compare("list_files (20 entries)", calls,
                async () => { var r = await client.CallToolAsync("list_files"); if (r.IsError == true) throw new InvalidOperationException("list failed"); },
                () => { files.List(id, "", out _); return Task.CompletedTask; });
        }
        finally
        {
            await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
            await docker.Networks.DeleteNetworkAsync(network.ID);
            if (Directory.Exists(dataRoot)) Directory.Delete(dataRoot, recursive: true);
        }
    }

    private static async Task Compare(string what, int calls, Func<Task> throughMcp, Func<Task> direct)
    {
        for (var i = 0; i < 5; i++) { await throughMcp(); await direct(); } // warm-up
        var mcp = new List<double>();
        var own = new List<double>();
        for (var i = 0; i < calls; i++)
        {
            mcp.Add(await Time(throughMcp));
            own.Add(await Time(direct));
        }
        var (mcpMedian, ownMedian) = (Percentile(mcp, 0.5), Percentile(own, 0.5));
        Console.WriteLine($"{what}: {calls} calls each, alternating");
        Console.WriteLine($"  through MCP (C# McpClient -> tools API): median {mcpMedian:F2} ms, p99 {Percentile(mcp, 0.99):F2} ms");
        Console.WriteLine($"  direct (same operation in process):      median {ownMedian:F2} ms, p99 {Percentile(own, 0.99):F2} ms");
        Console.WriteLine($"  ratio {mcpMedian / ownMedian:F2}, added {mcpMedian - ownMedian:F2} ms per call");
    }

    private static async Task<double> Time(Func<Task> action)
    {
        var started = Stopwatch.GetTimestamp();
        await action();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task EnsureDatabaseAsync(string connection)
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connection);
        var database = builder.Database!;
        builder.Database = "postgres";
        await using var admin = new Npgsql.NpgsqlConnection(builder.ConnectionString);
        await admin.OpenAsync();
        await using var exists = new Npgsql.NpgsqlCommand("select 1 from pg_database where datname = $1", admin) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync() is null)
            await new Npgsql.NpgsqlCommand($"create database \"{database}\"", admin).ExecuteNonQueryAsync();
    }
}
