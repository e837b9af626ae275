using System.Diagnostics;
using System.Net.WebSockets;
using System.Net.Http.Json;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.TestSupport;
using Pantheon.Web.Auth;

namespace Pantheon.Benchmarks;

// Time from POST /api/projects to `ready` for the test image, against the same network and two containers, with the
// options Pantheon gives them, created straight through the Docker API with Docker.DotNet, in the same run, alternating. Reports medians and
// their ratio, one at a time and 8 at once. Usage (PostgreSQL and Docker up, e.g. after ./test.sh):
//   dotnet run -c Release --project bench/Pantheon.Benchmarks -- provisioning [count=20] [parallel=8] [events|poll] [warm-up=40]
// `poll` turns the engine's events off and has the saga look at each VM every 100 ms instead (how it worked before them).
// The warm-up provisions that many projects through both paths, `parallel` at once, before anything is measured.
public static class ProvisioningBenchmark
{
    public const int PollMilliseconds = 100;

    /// <summary>
    /// The backend as it is deployed: the published Release process (ReadyToRun, Production mode, the application role), on
    /// the test VM image, with a client signed in as one user. Hosted inside the benchmark's own process instead, the
    /// backend ran without ReadyToRun and with dynamic PGO, and its JIT took about half of that process's CPU throughout
    /// the run, on the two cores the engine needed: a cost that the deployed backend does not have.
    /// </summary>
    public sealed record BenchHost(BackendProcess Backend, HttpClient Client, string Token) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Backend.DisposeAsync();
        }
    }

    public static async Task<BenchHost> StartHostAsync(string dataRoot, IReadOnlyDictionary<string, string>? extra = null)
    {
        var endpoint = Environment.GetEnvironmentVariable("Docker__Endpoint") ?? "unix:///var/run/docker.sock";
        var auth = new AuthSettings { Issuer = "pantheon-bench", Audience = "pantheon", SigningKey = "benchmark-signing-key-0123456789abcdef" };
        var settings = new Dictionary<string, string>
        {
            ["Auth:Authority"] = "", ["Auth:Issuer"] = auth.Issuer!, ["Auth:SigningKey"] = auth.SigningKey!,
            ["Docker:Endpoint"] = endpoint, ["Docker:Instance"] = "pantheon-bench", ["Projects:DataRoot"] = dataRoot,
            ["Projects:FileServerImage"] = "pantheon/file-server:latest",
            ["Projects:SubnetPool"] = Environment.GetEnvironmentVariable("PANTHEON_TEST_SUBNET_POOL") ?? "172.30.0.0/16",
            // The deployed defaults for how the saga learns that a VM is healthy: the engine's events, with a poll every 2 s
            // as the fallback, and scheduled messages looked for every 250 ms.
            ["Vm:Image"] = "pantheon/test-vm:latest", ["Vm:Devices"] = "", ["Vm:CapAdd"] = "",
            ["Vm:StopGracePeriodSeconds"] = "1",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>()) settings[key] = value;
        var backend = await Backend.StartAsync(settings.ToDictionary(e => e.Key.Replace(":", "__"), e => e.Value));
        var client = new HttpClient { BaseAddress = backend.Url, Timeout = TimeSpan.FromMinutes(5) };
        var token = DevTokens.Mint(auth, "bench-user", lifetime: TimeSpan.FromHours(2));
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return new BenchHost(backend, client, token);
    }

    public static async Task RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0]) : 20;
        var parallel = args.Length > 1 ? int.Parse(args[1]) : 8;
        var poll = args.Length > 2 && args[2] == "poll";
        var warmUp = args.Length > 3 ? int.Parse(args[3]) : 40;
        var endpoint = Environment.GetEnvironmentVariable("Docker__Endpoint") ?? "unix:///var/run/docker.sock";
        var dataRoot = Path.Combine(Path.GetTempPath(), "pantheon-bench");
        await using var host = await StartHostAsync(dataRoot, poll
            ? new Dictionary<string, string>
            {
                ["Vm:EngineEvents"] = "false", ["Vm:HealthPollMilliseconds"] = PollMilliseconds.ToString(),
                ["Projects:ScheduledPollingMilliseconds"] = PollMilliseconds.ToString(),
            }
            : null);
        Console.WriteLine(poll ? "The saga polls each VM every 100 ms (engine events off)." : "The engine's events tell the saga (a 2 s poll as fallback).");
        var client = host.Client;
        using var docker = new DockerClientConfiguration(new Uri(endpoint)).CreateClient();
        using var stop = new CancellationTokenSource();

        // Both paths are told, neither polls: Pantheon's client as the frontend is, by the project updates on /ws; the direct
        // path by the engine's events for its containers. (A GET every 100 ms from each client cost the backend and PostgreSQL
        // CPU on the 2 cores that the engine needs, charged to Pantheon's side alone.)
        var statuses = new Arrivals<(Guid, string)>();
        var healthy = new Arrivals<Guid>();
        using var updates = new ClientWebSocket();
        await updates.ConnectAsync(new Uri($"ws://{host.Backend.Url.Authority}/ws?access_token={host.Token}"), CancellationToken.None);
        await updates.SendAsync("""{"type":"subscribe","channel":"project-updates"}"""u8.ToArray(), WebSocketMessageType.Text, true,
            CancellationToken.None);
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            while (!stop.IsCancellationRequested)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await updates.ReceiveAsync(buffer.AsMemory(count), stop.Token);
                    count += result.Count;
                } while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close) break;
                using var message = JsonDocument.Parse(buffer.AsMemory(0, count));
                if (message.RootElement.GetProperty("type").GetString() != "project-updated") continue;
                var (id, status) = (message.RootElement.GetProperty("project_id").GetGuid(), message.RootElement.GetProperty("status").GetString()!);
                statuses.Arrive((id, status == "failed" ? "ready" : status), status);
            }
        });
        var engineEvents = docker.System.MonitorEventsAsync(new ContainerEventsParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
                ["event"] = new Dictionary<string, bool> { ["health_status: healthy"] = true },
                ["label"] = new Dictionary<string, bool> { ["pantheon.bench"] = true },
            },
        }, new EngineEventsReported(e =>
        {
            if (e.Actor?.Attributes?.TryGetValue("pantheon.bench", out var id) == true) healthy.Arrive(Guid.Parse(id), "healthy");
        }), stop.Token);

        async Task<TimeSpan> ThroughPantheon()
        {
            var watch = Stopwatch.StartNew();
            var created = await client.PostAsJsonAsync("/api/projects", new { name = "bench" });
            created.EnsureSuccessStatusCode();
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            if (await statuses.WaitAsync((id, "ready")) == "failed") throw new InvalidOperationException($"project {id} failed");
            var elapsed = watch.Elapsed;
            (await client.DeleteAsync($"/api/projects/{id}")).EnsureSuccessStatusCode();
            await statuses.WaitAsync((id, "deleted"));
            return elapsed;
        }

        var (projects, vms) = (new ProjectSettings(), new VmSettings());
        const long CpuPeriod = DockerVmHost.CpuPeriodMicroseconds;
        var directSubnets = new SubnetPool("172.31.0.0/16").All().Select(s => s.Cidr).ToList();
        var nextDirect = 0;
        async Task<TimeSpan> Direct()
        {
            var subnet = Subnet.Parse(directSubnets[Interlocked.Increment(ref nextDirect) % directSubnets.Count]);
            var id = Guid.NewGuid();
            var labels = new Dictionary<string, string> { ["pantheon.bench"] = id.ToString() };
            var folder = Directory.CreateDirectory(Path.Combine(dataRoot, "direct", id.ToString())).FullName;
            await File.WriteAllTextAsync(Path.Combine(folder, ".env"), $"PROJECT_ID={id}\n");
            var watch = Stopwatch.StartNew();
            var network = await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
            {
                Name = $"bench-{id}", Driver = "bridge", Internal = true, Labels = labels, CheckDuplicate = true,
                IPAM = new IPAM { Config = [new IPAMConfig { Subnet = subnet.Cidr, Gateway = subnet.Gateway }] },
            });
            async Task<string> Run(string name, string image, string ip, IList<string>? cmd, HostConfig host, string? user = null,
                IList<string>? env = null, IDictionary<string, EmptyStruct>? exposed = null)
            {
                host.NetworkMode = $"bench-{id}";
                host.SecurityOpt = ["no-new-privileges:true"];
                host.RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No };
                var container = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
                {
                    Name = name, Image = image, Cmd = cmd, Labels = labels, User = user, HostConfig = host,
                    Env = env, ExposedPorts = exposed,
                    StopTimeout = TimeSpan.FromSeconds(1),
                    NetworkingConfig = new NetworkingConfig
                    {
                        EndpointsConfig = new Dictionary<string, EndpointSettings> { [$"bench-{id}"] = new() { IPAMConfig = new EndpointIPAMConfig { IPv4Address = ip } } },
                    },
                });
                await docker.Containers.StartContainerAsync(container.ID, new ContainerStartParameters());
                return container.ID;
            }
            // The containers Pantheon makes, with the same options (ProjectProvisioning): the file server locked down and
            // bounded, the VM bounded, with a /storage volume, its environment (Vm:Environment) and the viewer port
            // (Vm:ViewerPort) asked to be published on 127.0.0.1, as Pantheon asks it. The ratio is then what Pantheon
            // adds, not what those options cost the engine. (On an internal network the engine publishes no port, for
            // either path: no docker-proxy runs, NetworkSettings.Ports stays empty.) This path never asks less of the engine.
            await Run($"bench-{id:N}-files", "pantheon/file-server:latest", subnet.SharedFolder, projects.FileServerCommand, new HostConfig
            {
                Binds = [$"{folder}:/srv:ro"], CapDrop = ["ALL"], ReadonlyRootfs = true, Memory = projects.FileServerMemoryBytes,
                CPUPeriod = CpuPeriod, CPUQuota = (long)(projects.FileServerCpus * CpuPeriod), PidsLimit = projects.FileServerPidsLimit,
            }, projects.FileServerUser);
            await docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = $"bench-{id:N}-storage", Labels = labels });
            var vm = await Run($"bench-{id:N}-vm", "pantheon/test-vm:latest", subnet.Vm, null, new HostConfig
            {
                Binds = [$"{folder}:{vms.SharedFolderMount}"],
                Mounts = [new Mount { Type = "volume", Source = $"bench-{id:N}-storage", Target = vms.StorageMount }],
                Memory = vms.MemoryBytes ?? 0, CPUPeriod = CpuPeriod, CPUQuota = (long)((vms.Cpus ?? 0) * CpuPeriod), PidsLimit = vms.PidsLimit,
                PortBindings = new Dictionary<string, IList<PortBinding>>
                {
                    [$"{vms.ViewerPort}/tcp"] = [new PortBinding { HostIP = new PortPublish(vms.ViewerPort).HostIp, HostPort = "" }],
                },
            }, env: vms.Environment.Select(e => $"{e.Key}={e.Value}").ToList(),
                exposed: new Dictionary<string, EmptyStruct> { [$"{vms.ViewerPort}/tcp"] = default });
            await healthy.WaitAsync(id);
            var elapsed = watch.Elapsed;

            var filter = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"pantheon.bench={id}"] = true } };
            foreach (var c in await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }))
                await docker.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
            await docker.Volumes.RemoveAsync($"bench-{id:N}-storage", force: true);
            await docker.Networks.DeleteNetworkAsync(network.ID);
            Directory.Delete(folder, recursive: true);
            return elapsed;
        }

        static double Median(List<TimeSpan> xs) => xs.Select(x => x.TotalMilliseconds).Order().ElementAt(xs.Count / 2) is var m && xs.Count % 2 == 1
            ? m : (xs.Select(x => x.TotalMilliseconds).Order().ElementAt(xs.Count / 2 - 1) + xs.Select(x => x.TotalMilliseconds).Order().ElementAt(xs.Count / 2)) / 2;

        async Task<(List<TimeSpan> Pantheon, List<TimeSpan> Direct, CpuUse PantheonCpu, CpuUse DirectCpu)> Measure(int degree, int count)
        {
            var pantheon = new List<TimeSpan>();
            var direct = new List<TimeSpan>();
            var (pantheonCpu, directCpu) = (default(CpuUse), default(CpuUse));
            // Each round runs a batch through Pantheon, then the same batch directly, so noise falls on both alike. The CPU
            // of a batch includes its removals, which both paths do.
            for (var done = 0; done < count; done += degree)
            {
                var batch = Math.Min(degree, count - done);
                var start = CpuReading.Now(host.Backend.Pid);
                pantheon.AddRange(await Task.WhenAll(Enumerable.Range(0, batch).Select(_ => ThroughPantheon())));
                var middle = CpuReading.Now(host.Backend.Pid);
                direct.AddRange(await Task.WhenAll(Enumerable.Range(0, batch).Select(_ => Direct())));
                (pantheonCpu, directCpu) = (pantheonCpu + (middle - start), directCpu + (CpuReading.Now(host.Backend.Pid) - middle));
            }
            return (pantheon, direct, pantheonCpu, directCpu);
        }

        // Warm-up, unmeasured: connection pools, the first schema touch, and the JIT. A saga step runs once per project, and
        // the runtime recompiles a method optimised after its 30th call: after a warm-up of one project, the backend compiled
        // some 4,000 methods during the one-at-a-time batches and 1,200 during the 8-at-once ones (DOTNET_JitStdOutFile),
        // the deletions included, on the cores the engine needs. A deployed backend does that once, over its first projects.
        await Measure(parallel, Math.Max(warmUp, 1));
        foreach (var degree in new[] { 1, parallel })
        {
            var (pantheon, direct, pantheonCpu, directCpu) = await Measure(degree, count);
            Console.WriteLine($"{count} projects, {degree} at once: Pantheon POST->ready median {Median(pantheon):F0} ms, " +
                              $"direct Docker.DotNet median {Median(direct):F0} ms, ratio {Median(pantheon) / Median(direct):F2}x, " +
                              $"added {Median(pantheon) - Median(direct):F0} ms");
            Console.WriteLine($"  CPU, Pantheon's batches: {pantheonCpu}");
            Console.WriteLine($"  CPU, direct batches:     {directCpu}");
        }
        await stop.CancelAsync();
        try
        {
            await Task.WhenAll(reading, engineEvents);
        }
        catch (OperationCanceledException)
        {
            // Both end by the cancellation.
        }
    }
}

/// <summary>Things that arrive (a status, a health event) and those who wait for them, in either order.</summary>
public sealed class Arrivals<TKey> where TKey : notnull
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TKey, TaskCompletionSource<string>> _arrived = new();

    private TaskCompletionSource<string> For(TKey key) =>
        _arrived.GetOrAdd(key, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));

    public void Arrive(TKey key, string what) => For(key).TrySetResult(what);

    public async Task<string> WaitAsync(TKey key)
    {
        var what = await For(key).Task.WaitAsync(TimeSpan.FromMinutes(5));
        _arrived.TryRemove(key, out _);
        return what;
    }
}


