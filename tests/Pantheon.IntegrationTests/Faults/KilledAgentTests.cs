using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;
using Pantheon.Tools;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>
/// A backend killed (SIGKILL) while its agent run waits for an approval: the run is closed as interrupted on restart,
/// counted from the approval's expiry, not from the message; a live run on the other node that waits longer than
/// <c>Chat:MaxReplySeconds</c> plus the margin for its approval is not closed, and finishes.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class KilledAgentTests
{
    // The approval outlasts the window in which the live run is watched (limit + margin + 3 s), so it cannot expire inside it.
    private const int MaxReplySeconds = 6, MarginSeconds = 2, ApprovalSeconds = 20;

    [Fact]
    public async Task an_agent_run_of_a_killed_node_ends_interrupted_and_a_live_one_waiting_longer_is_left_alone()
    {
        var database = await TestDatabase.OwnAsync("faults_agent");
        await using var fake = await FakeProvider.StartAsync();
        var port = FreePort();
        var settings = TestSettings.Production();
        settings["ConnectionStrings:Marten"] = database;
        settings["Chat:BaseUrls:openai"] = fake.BaseUrl.ToString().TrimEnd('/') + "/v1";
        settings["Chat:MaxReplySeconds"] = $"{MaxReplySeconds}";
        settings["Chat:AbandonedTurnMarginSeconds"] = $"{MarginSeconds}";
        settings["Chat:AbandonedTurnSweepSeconds"] = "1";
        settings["Chat:ApprovalTimeoutSeconds"] = $"{ApprovalSeconds}";
        settings["Chat:ToolsUrl"] = $"http://127.0.0.1:{port}/";
        var toolSettings = new Dictionary<string, string?>(settings)
        {
            ["Tools:Urls"] = $"http://127.0.0.1:{port}", ["Tools:Port"] = $"{port}", ["Tools:ProjectCacheMilliseconds"] = "200",
            // The tools API runs as its own database role, as deployed: it reads projects and records tool events, nothing else.
            ["ConnectionStrings:Marten"] = TestDatabase.As(database, Pantheon.Handlers.Infrastructure.DatabaseRoles.ToolsRole),
        };
        await using var toolsApi = ToolsApp.Build(["--environment", "Testing"], toolSettings);
        await toolsApi.StartAsync();
        await using var a = await TestBackend.StartAsync(settings);
        await using var b = await TestBackend.StartAsync(settings);

        var (killedUser, liveUser) = (TestSettings.NewUser("agent-killed"), TestSettings.NewUser("agent-live"));
        var projects = new Dictionary<string, Guid>();
        foreach (var user in new[] { killedUser, liveUser })
        {
            using var client = new NodeClient(a, TestSettings.TokenFor(user));
            await client.Json(HttpMethod.Post, "/api/user/api-keys", new { name = "k", provider = "openai", key = "sk-agent-0000" }, 201);
            var id = (await client.Json(HttpMethod.Post, "/api/projects", new { name = "agent", os = "windows-11" }, 202)).GetProperty("id").GetGuid();
            await Eventually.Get(() => client.StatusOf(id), s => s == "ready", TimeSpan.FromSeconds(120), $"project of {user} ready");
            await client.Json(HttpMethod.Put, $"/api/projects/{id}/settings", new { tool_approval = "always" });
            projects[user] = id;
        }

        // A's run waits for an approval when A is killed.
        fake.Scripted(ScriptedRound.Call("list_files", new { }), new ScriptedRound("listed"));
        var (killedHttp, killedBody) = await UntilApproval(a, killedUser, projects[killedUser]);
        a.Kill();
        killedBody.Dispose();
        killedHttp.Dispose();
        await a.RestartAsync();

        // B's run waits longer than the limit and the margin for its approval, which then comes: it is alive all along.
        fake.Scripted(ScriptedRound.Call("list_files", new { }), new ScriptedRound("listed for the living"));
        var (liveHttp, liveBody) = await UntilApproval(b, liveUser, projects[liveUser], out var callId);
        using (var live = new NodeClient(b, TestSettings.TokenFor(liveUser)))
        {
            // Past the limit and margin (from the message), with sweeps every second on both nodes, the turn stays open.
            var opened = DateTime.UtcNow;
            while ((DateTime.UtcNow - opened).TotalSeconds < MaxReplySeconds + MarginSeconds + 3)
            {
                var turns = (await live.Json(HttpMethod.Get, $"/api/chat/history?project_id={projects[liveUser]}")).GetProperty("turns");
                turns.EnumerateArray().ShouldNotContain(t => t.GetProperty("role").GetString() == "assistant", turns.ToString());
                await Task.Delay(500); // a pace for reading, not a wait for an outcome
            }
            await live.Json(HttpMethod.Post, $"/api/chat/approvals/{await callId}", new { approve = true });
        }
        var rest = await new StreamReader(liveBody).ReadToEndAsync();
        rest.ShouldContain("event: done");
        // The reply streams in pieces: its text is the deltas' texts together.
        string.Concat(rest.Split('\n').Zip(rest.Split('\n').Skip(1))
                .Where(p => p.First == "event: delta" && p.Second.StartsWith("data: ", StringComparison.Ordinal))
                .Select(p => JsonSerializer.Deserialize<JsonElement>(p.Second[6..]).GetProperty("text").GetString()))
            .ShouldBe("listed for the living");
        liveBody.Dispose();
        liveHttp.Dispose();

        using (var killed = new NodeClient(b, TestSettings.TokenFor(killedUser)))
        {
            var history = await Eventually.Get(() => killed.Json(HttpMethod.Get, $"/api/chat/history?project_id={projects[killedUser]}"),
                h => h.GetProperty("turns").EnumerateArray().Any(t => t.GetProperty("role").GetString() == "assistant"),
                TimeSpan.FromSeconds(ApprovalSeconds + MaxReplySeconds + MarginSeconds + 60), "the killed run to be closed");
            history.GetProperty("turns").EnumerateArray().Select(t => (t.GetProperty("role").GetString(), t.GetProperty("status").GetString()))
                .ShouldBe([("user", "sent"), ("tool_call", "sent"), ("assistant", "interrupted")]);
        }
    }

    private static Task<(HttpClient, Stream)> UntilApproval(BackendProcess node, string user, Guid project) =>
        UntilApproval(node, user, project, out _);

    /// <summary>Sends an agent turn and reads its events up to <c>approval_required</c>; the call's id comes with it.</summary>
    private static Task<(HttpClient, Stream)> UntilApproval(BackendProcess node, string user, Guid project, out Task<Guid> callId)
    {
        var call = new TaskCompletionSource<Guid>();
        callId = call.Task;
        return Run();

        async Task<(HttpClient, Stream)> Run()
        {
            var http = new HttpClient { BaseAddress = node.Url, Timeout = Timeout.InfiniteTimeSpan };
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat")
            {
                Content = JsonContent.Create(new { message = "list the files", model = "openai/gpt-4o", project_id = project, tools = true }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestSettings.TokenFor(user));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            // Only a failure's body is read: reading it as an assertion's message would wait for the whole stream.
            if (response.StatusCode != HttpStatusCode.OK)
                throw new ShouldAssertException($"POST /api/chat answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            var body = await response.Content.ReadAsStreamAsync();
            // Byte by byte, so that nothing after the approval's event is read ahead and lost to the caller.
            var line = new List<byte>();
            var seen = new System.Text.StringBuilder();
            var approval = false;
            while (true)
            {
                var b = body.ReadByte();
                if (b < 0)
                    throw new InvalidOperationException($"the stream ended before an approval was asked for: {seen}\n{node.Log[^Math.Min(4000, node.Log.Length)..]}");
                if (b != '\n')
                {
                    line.Add((byte)b);
                    continue;
                }
                var text = System.Text.Encoding.UTF8.GetString([.. line]);
                seen.AppendLine(text);
                line.Clear();
                if (text == "event: approval_required") approval = true;
                else if (approval && text.StartsWith("data: ", StringComparison.Ordinal))
                {
                    call.SetResult(JsonSerializer.Deserialize<JsonElement>(text[6..]).GetProperty("call_id").GetGuid());
                    return (http, body);
                }
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
