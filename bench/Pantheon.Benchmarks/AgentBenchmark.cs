using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using ModelContextProtocol.Client;
using Pantheon.Handlers.Keys;
using Pantheon.Handlers.Projects;
using Pantheon.TestSupport;
using Pantheon.Tools;

namespace Pantheon.Benchmarks;

// The agent loop: a model (the loopback fake, which answers at once) asks for `list_files` in each of R rounds, then answers;
// measured as POST /api/chat turns of 1 and of 5 tool rounds, against a plain chat turn (one model call, no tools), against
// `list_files` called directly through the same official C# MCP client and tools API, and against one model round (a streamed
// answer that asks for `list_files`) called directly on the fake. Alternating, medians, same run.
//   per round                     = (turn of 5 rounds - turn of 1 round) / 4: one model call, one tool call, the steps recorded
//   overhead beyond the model     = per round - the direct model round
//   tool call added by the loop   = per round - the direct model round - the direct MCP call
// Usage (PostgreSQL and Docker up): dotnet run -c Release --project bench/Pantheon.Benchmarks -- agent [turns=50]
public static class AgentBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var turns = args.Length > 0 ? int.Parse(args[0]) : 50;
        const string secret = "benchmark-master-secret-0123456789abcdef";
        var dataRoot = Path.Combine(Path.GetTempPath(), "pantheon-bench-agent");
        // The tools service reads the database the published backend writes (Backend), under its own role, as deployed.
        var connection = Environment.GetEnvironmentVariable("PANTHEON_TOOLS_CONNECTION")
            ?? "Host=127.0.0.1;Port=5433;Database=pantheon;Username=pantheon_tools;Password=pantheon_tools";
        await using var fake = await FakeProvider.StartAsync();
        var port = FreePort();
        await using var bench = await ProvisioningBenchmark.StartHostAsync(dataRoot, new Dictionary<string, string>
        {
            ["Chat:BaseUrls:openai"] = new Uri(fake.BaseUrl, "v1").ToString(), ["OPENAI_API_KEY"] = "sk-bench",
            ["Chat:ToolsUrl"] = $"http://127.0.0.1:{port}/",
        });
        await using var tools = ToolsApp.Build(["--environment", "Production"], new Dictionary<string, string?>
        {
            ["ConnectionStrings:Marten"] = connection, ["MCP_MASTER_SECRET"] = secret, ["Projects:DataRoot"] = dataRoot,
            ["Tools:Urls"] = $"http://127.0.0.1:{port}", ["Logging:LogLevel:Default"] = "Warning",
        });
        await tools.StartAsync();
        var client = bench.Client;

        var created = await client.PostAsJsonAsync("/api/projects", new { name = "agent-bench" });
        created.EnsureSuccessStatusCode();
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        while ((await client.GetFromJsonAsync<JsonElement>($"/api/projects/{id}")).GetProperty("status").GetString() is var s && s != "ready")
        {
            if (s == "failed") throw new InvalidOperationException("the benchmark's project failed");
            await Task.Delay(20);
        }
        var projectSecret = new SharedFolders(new ProjectSettings { DataRoot = dataRoot }, MasterSecret.From(secret, false)).ProjectSecret(id);
        await using var mcp = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri($"http://127.0.0.1:{port}/"), TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {projectSecret}" },
        }));

        async Task Turn(int rounds)
        {
            fake.Scripted([.. Enumerable.Range(0, rounds).Select(_ => ScriptedRound.Call("list_files", new { })), new ScriptedRound("done")]);
            var response = await client.PostAsJsonAsync("/api/chat", new
            {
                message = "list", model = "openai/bench-model", project_id = id, tools = rounds > 0,
            });
            response.EnsureSuccessStatusCode();
            // Each turn starts a fresh conversation, so that every turn sends the same context.
            (await client.DeleteAsync($"/api/chat/history?project_id={id}")).EnsureSuccessStatusCode();
        }
        using var http = new HttpClient();
        var modelRound = JsonSerializer.Serialize(new
        {
            model = "bench-model", stream = true, stream_options = new { include_usage = true },
            messages = new[] { new { role = "user", content = "list" } },
            tools = new[] { new { type = "function", function = new { name = "list_files", parameters = new { type = "object" } } } },
        });
        async Task ModelDirect()
        {
            fake.Scripted(ScriptedRound.Call("list_files", new { }));
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(fake.BaseUrl, "v1/chat/completions"))
            {
                Content = new StringContent(modelRound, System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "sk-bench");
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            if (!(await response.Content.ReadAsStringAsync()).Contains("list_files")) throw new InvalidOperationException("the model round asked for no tool");
        }
        async Task Direct()
        {
            if ((await mcp.CallToolAsync("list_files")).IsError == true) throw new InvalidOperationException("list_files failed");
        }

        for (var i = 0; i < 3; i++) { await Turn(0); await Turn(1); await Turn(5); await Direct(); await ModelDirect(); } // warm-up
        var (plain, one, five, direct, model) = (new List<double>(), new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (var i = 0; i < turns; i++)
        {
            plain.Add(await Time(() => Turn(0)));
            one.Add(await Time(() => Turn(1)));
            five.Add(await Time(() => Turn(5)));
            direct.Add(await Time(Direct));
            model.Add(await Time(ModelDirect));
        }
        var (p, a1, a5, d, m) = (Median(plain), Median(one), Median(five), Median(direct), Median(model));
        var perRound = (a5 - a1) / 4;
        Console.WriteLine($"agent: {turns} turns of each kind, alternating (medians)");
        Console.WriteLine($"  plain chat turn (one model call):          {p:F2} ms");
        Console.WriteLine($"  agent turn, 1 tool round (2 model calls):  {a1:F2} ms");
        Console.WriteLine($"  agent turn, 5 tool rounds (6 model calls): {a5:F2} ms");
        Console.WriteLine($"  list_files through MCP directly:           {d:F2} ms");
        Console.WriteLine($"  one model round on the fake directly:      {m:F2} ms");
        Console.WriteLine($"  per round (model call + tool call + steps recorded): {perRound:F2} ms");
        Console.WriteLine($"  overhead per round beyond the model's own time: {perRound - m:F2} ms");
        Console.WriteLine($"  tool call through the loop: {perRound - m:F2} ms against {d:F2} ms directly ({perRound - m - d:F2} ms added, "
            + $"ratio {(perRound - m) / d:F2})");
        (await client.DeleteAsync($"/api/projects/{id}")).EnsureSuccessStatusCode();
    }

    private static async Task<double> Time(Func<Task> action)
    {
        var started = Stopwatch.GetTimestamp();
        await action();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
