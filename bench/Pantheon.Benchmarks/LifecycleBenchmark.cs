using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Pantheon.Benchmarks;

// Stop and start of one project's VM through the API (POST .../stop until `stopped`, POST .../start until `ready`, and
// POST .../restart until `ready` again) against `docker stop` / `docker start` (until healthy) / `docker restart` (until
// healthy) of the same container straight through Docker.DotNet, alternating, in the same run. Medians, their ratio and
// the milliseconds added. Usage (PostgreSQL and Docker up):
//   dotnet run -c Release --project bench/Pantheon.Benchmarks -- lifecycle [rounds=20]
public static class LifecycleBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0]) : 20;
        var poll = ProvisioningBenchmark.PollMilliseconds;
        var endpoint = Environment.GetEnvironmentVariable("Docker__Endpoint") ?? "unix:///var/run/docker.sock";
        await using var bench = await ProvisioningBenchmark.StartHostAsync(Path.Combine(Path.GetTempPath(), "pantheon-bench"));
        var client = bench.Client;
        using var docker = new DockerClientConfiguration(new Uri(endpoint)).CreateClient();

        var created = await client.PostAsJsonAsync("/api/projects", new { name = "lifecycle-bench" });
        created.EnsureSuccessStatusCode();
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await Until(id, "ready");
        var container = $"pantheon-{id:N}-vm";

        async Task Until(Guid project, string wanted)
        {
            while (true)
            {
                var status = (await client.GetFromJsonAsync<JsonElement>($"/api/projects/{project}")).GetProperty("status").GetString();
                if (status == wanted) return;
                if (status == "failed") throw new InvalidOperationException($"project {project} failed");
                await Task.Delay(10);
            }
        }

        async Task<TimeSpan> Api(string verb, string wanted)
        {
            var watch = Stopwatch.StartNew();
            (await client.PostAsync($"/api/projects/{id}/{verb}", null)).EnsureSuccessStatusCode();
            // A restart passes through `ready`'s neighbours only: wait for the stop to show before waiting for ready again.
            if (verb == "restart") await Until(id, "starting");
            await Until(id, wanted);
            return watch.Elapsed;
        }

        async Task Healthy()
        {
            while ((await docker.Containers.InspectContainerAsync(container)).State.Health?.Status != "healthy") await Task.Delay(poll);
        }

        async Task<TimeSpan> Direct(string verb)
        {
            var watch = Stopwatch.StartNew();
            switch (verb)
            {
                case "stop":
                    await docker.Containers.StopContainerAsync(container, new ContainerStopParameters { WaitBeforeKillSeconds = 1 });
                    break;
                case "start":
                    await docker.Containers.StartContainerAsync(container, new ContainerStartParameters());
                    await Healthy();
                    break;
                default:
                    await docker.Containers.RestartContainerAsync(container, new ContainerRestartParameters { WaitBeforeKillSeconds = 1 });
                    await Healthy();
                    break;
            }
            return watch.Elapsed;
        }

        var api = new Dictionary<string, List<TimeSpan>> { ["stop"] = [], ["start"] = [], ["restart"] = [] };
        var direct = new Dictionary<string, List<TimeSpan>> { ["stop"] = [], ["start"] = [], ["restart"] = [] };
        for (var round = -1; round < rounds; round++) // round -1 warms up, unmeasured
        {
            // Pantheon's cycle, then the same cycle on the same container directly: the project is ready again after each.
            var measured = new[] { ("stop", await Api("stop", "stopped")), ("start", await Api("start", "ready")), ("restart",
                await Api("restart", "ready")) };
            var straight = new[] { ("stop", await Direct("stop")), ("start", await Direct("start")), ("restart", await Direct("restart")) };
            if (round < 0) continue;
            foreach (var (verb, t) in measured) api[verb].Add(t);
            foreach (var (verb, t) in straight) direct[verb].Add(t);
        }

        static double Median(List<TimeSpan> xs)
        {
            var sorted = xs.Select(x => x.TotalMilliseconds).Order().ToList();
            return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        }
        foreach (var (verb, what) in new[] { ("stop", "stop->stopped"), ("start", "start->ready"), ("restart", "restart->ready") })
        {
            var (p, d) = (Median(api[verb]), Median(direct[verb]));
            Console.WriteLine($"{rounds} rounds, {what}: Pantheon median {p:F0} ms, direct docker {verb} median {d:F0} ms, ratio {p / d:F2}x, added {p - d:F0} ms");
        }

        (await client.DeleteAsync($"/api/projects/{id}")).EnsureSuccessStatusCode();
        while ((await client.GetAsync($"/api/projects/{id}")).IsSuccessStatusCode) await Task.Delay(50);
    }
}
