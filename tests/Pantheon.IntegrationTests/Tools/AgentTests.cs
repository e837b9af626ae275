using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Alba;
using Marten;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Live;
using Pantheon.IntegrationTests.Projects;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Tools;

/// <summary>Agent turns: a scripted model drives the desktop VM through the tools API, every step on the record.</summary>
[Collection(ToolsCollection.Name)]
public class AgentTests(ToolsFixture tools)
{
    private FakeProvider Fake => tools.Fake;
    private IAlbaHost Host => tools.Host;

    [Fact]
    public async Task a_scripted_model_screenshots_clicks_the_xterm_types_a_command_and_reads_back_the_file_it_wrote()
    {
        var (project, token) = await Agent("openai");
        await tools.XtermShownAsync(project);
        var marker = $"agent-{Guid.NewGuid():N}";
        var file = Path.Combine(project.Folder, $"{marker}.txt");
        Fake.Scripted(
            ScriptedRound.Call("screenshot", new { }),
            new ScriptedRound("Clicking the terminal.", new ScriptedCall("mouse_click", new { x = 300, y = 200 })),
            ScriptedRound.Call("type_text", new { text = $"echo {marker} > /shared/{marker}.txt\n" }),
            // The model goes on once the shell has written the file (the test watches the shared folder).
            ScriptedRound.Call("read_file", new { path = $"{marker}.txt" }) with
            {
                Before = () => Eventually.Get(() => Task.FromResult(File.Exists(file) && File.ReadAllText(file).Length > 0), x => x,
                    TimeSpan.FromSeconds(30), "the file the xterm writes"),
            },
            new ScriptedRound($"The file says {marker}."));
        await using var live = await (await LiveClient.ConnectAsync(Host, token)).Subscribe();

        var events = await StreamChat(token, new { message = "write the marker", model = "openai/gpt-4o", project_id = project.Id, tools = true });

        File.ReadAllText(file).ShouldBe(marker + "\n");
        events.Where(e => e.Name is "tool_call" or "tool_result").Select(e => (e.Name, e.Data.GetProperty("tool").GetString())).ShouldBe(
        [
            ("tool_call", "screenshot"), ("tool_result", "screenshot"), ("tool_call", "mouse_click"), ("tool_result", "mouse_click"),
            ("tool_call", "type_text"), ("tool_result", "type_text"), ("tool_call", "read_file"), ("tool_result", "read_file"),
        ]);
        events.Where(e => e.Name == "tool_result").ShouldAllBe(e => !e.Data.GetProperty("is_error").GetBoolean());
        events.Single(e => e.Name == "tool_result" && e.Data.GetProperty("tool").GetString() == "screenshot").Data
            .GetProperty("images").GetInt32().ShouldBe(1);
        events.Single(e => e.Name == "tool_result" && e.Data.GetProperty("tool").GetString() == "read_file").Data
            .GetProperty("result").GetString()!.ShouldContain(marker);
        string.Concat(events.Where(e => e.Name == "delta").Select(e => e.Data.GetProperty("text").GetString()))
            .ShouldBe($"Clicking the terminal.The file says {marker}.");
        events.Last().Name.ShouldBe("done");

        // The model got the tools, each result with its call's id, and the screenshot as an image.
        var requests = Fake.Requests.ToList();
        requests.Count.ShouldBe(5);
        requests[0].Body.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("function").GetProperty("name").GetString())
            .ShouldContain("screenshot");
        var second = requests[1].Body.GetProperty("messages").EnumerateArray().ToList();
        var asked = second.Last(m => m.GetProperty("role").GetString() == "assistant").GetProperty("tool_calls")[0];
        second.Single(m => m.GetProperty("role").GetString() == "tool").GetProperty("tool_call_id").GetString()
            .ShouldBe(asked.GetProperty("id").GetString());
        second.Last().GetProperty("role").GetString().ShouldBe("user");
        second.Last().GetProperty("content").EnumerateArray().ShouldContain(p => p.GetProperty("type").GetString() == "image_url");

        // The turn is one timeline on the conversation: one correlation id from the message to the usage.
        var timeline = await Timeline(project.Id, token);
        var turn = timeline.SkipWhile(e => e.Data is not MessageSent { Content: "write the marker" }).ToList();
        turn.Select(e => e.Data.GetType().Name).ShouldBe(
        [
            "MessageSent", "ToolCallRequested", "ToolResultReceived", "ToolCallRequested", "ToolResultReceived",
            "ToolCallRequested", "ToolResultReceived", "ToolCallRequested", "ToolResultReceived", "ReplyReceived", "UsageRecorded",
        ]);
        turn.Select(e => e.CorrelationId).Distinct().ShouldHaveSingleItem();
        turn.OfType<JasperFx.Events.IEvent>().Last().Data.ShouldBeOfType<UsageRecorded>().TokensIn.ShouldBe(5 * 11);

        // The tools API recorded each call on the project, and /ws showed them as they happened.
        // The hub may first deliver the project's earlier tool activity (other tests' calls, committed before this socket
        // subscribed but not yet delivered): this run's four calls are the last ones, in order.
        string[] expected = ["screenshot", "mouse_click", "type_text", "read_file"];
        var called = new List<string>();
        var returned = new List<string>();
        while (!called.TakeLast(4).SequenceEqual(expected) || !returned.TakeLast(4).SequenceEqual(expected))
        {
            var message = await live.Receive(TimeSpan.FromSeconds(30));
            if (message.GetProperty("type").GetString() != "tool-activity" || message.GetProperty("project_id").GetGuid() != project.Id)
                continue;
            var tool = message.GetProperty("tool").GetString()!;
            (message.GetProperty("event").GetString() == "tool_called" ? called : returned).Add(tool);
        }

        // The history shows each call and its result.
        var history = await History(token, project.Id);
        history.Select(t => t.GetProperty("role").GetString()).TakeLast(10).ShouldBe(
            ["user", "tool_call", "tool_result", "tool_call", "tool_result", "tool_call", "tool_result", "tool_call", "tool_result", "assistant"]);
    }

    [Fact]
    public async Task an_approved_call_runs_a_refused_one_does_not_and_only_the_owner_may_answer()
    {
        var (project, token) = await Agent("openai");
        await SetApproval(project.Id, token, new[] { "write_file" });
        var (yes, no) = ($"approved-{Guid.NewGuid():N}.txt", $"refused-{Guid.NewGuid():N}.txt");
        Fake.Scripted(
            new ScriptedRound("", new ScriptedCall("write_file", new { path = yes, content = "yes" }),
                new ScriptedCall("write_file", new { path = no, content = "no" }), new ScriptedCall("list_files", new { })),
            new ScriptedRound("Done."));
        var stranger = TestSettings.TokenFor(TestSettings.NewUser("stranger"));
        var answers = 0;
        // The owner answers each approval as its event arrives on the stream: approves the first, refuses the second.
        var events = await StreamChat(token, new { message = "write both", model = "openai/gpt-4o", project_id = project.Id, tools = true },
            async (name, data) =>
            {
                if (name != "approval_required") return;
                var call = data.GetProperty("call_id").GetGuid();
                await Host.Send(HttpMethod.Post, $"/api/chat/approvals/{call}", stranger, new { approve = true }, status: 404);
                await Host.Send(HttpMethod.Post, $"/api/chat/approvals/{call}", token, new { approve = answers++ == 0 });
                await Host.Send(HttpMethod.Post, $"/api/chat/approvals/{call}", token, new { approve = true }, status: 409);
            });

        answers.ShouldBe(2);
        events.Count(e => e.Name == "approval_required").ShouldBe(2); // list_files needs none
        File.ReadAllText(Path.Combine(project.Folder, yes)).ShouldBe("yes");
        File.Exists(Path.Combine(project.Folder, no)).ShouldBeFalse();
        var results = events.Where(e => e.Name == "tool_result").Select(e => e.Data).ToList();
        results.Select(r => r.GetProperty("is_error").GetBoolean()).ShouldBe([false, true, false]);
        results[1].GetProperty("result").GetString().ShouldBe("The user refused this call of write_file: it did not run.");
        var told = Fake.Requests.Last().Body.GetProperty("messages").EnumerateArray().Where(m => m.GetProperty("role").GetString() == "tool")
            .Select(m => m.GetProperty("content").GetString()).ToList();
        told.ShouldContain("The user refused this call of write_file: it did not run.");

        var answered = (await Timeline(project.Id, token)).Select(e => e.Data).OfType<ToolApprovalAnswered>().TakeLast(2).ToList();
        answered.Select(a => a.Answer).ShouldBe([ApprovalAnswers.Approved, ApprovalAnswers.Refused]);
        await SetApproval(project.Id, token, "never");
    }

    [Fact]
    public async Task an_unanswered_approval_expires_and_the_model_is_told_so_in_anthropics_format()
    {
        var (project, token) = await Agent("anthropic");
        await SetApproval(project.Id, token, "always");
        Fake.Scripted(ScriptedRound.Call("list_files", new { }), new ScriptedRound("It expired."));

        var reply = await Chat(token, new { message = "list", model = "anthropic/claude-3-5-sonnet-latest", project_id = project.Id, tools = true });

        reply.GetProperty("reply").GetString().ShouldBe("It expired.");
        var step = reply.GetProperty("steps").EnumerateArray().ShouldHaveSingleItem();
        step.GetProperty("approval").GetString().ShouldBe("expired");
        step.GetProperty("is_error").GetBoolean().ShouldBeTrue();
        step.GetProperty("result").GetString()!.ShouldContain($"within {ToolsFixture.ApprovalTimeoutSeconds} s (Chat:ApprovalTimeoutSeconds)");
        var second = Fake.Requests.Last().Body;
        second.GetProperty("tools").EnumerateArray().ShouldContain(t => t.GetProperty("name").GetString() == "list_files"
            && t.GetProperty("input_schema").ValueKind == JsonValueKind.Object);
        var messages = second.GetProperty("messages").EnumerateArray().ToList();
        var use = messages[^2].GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_use");
        var result = messages[^1].GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_result");
        result.GetProperty("tool_use_id").GetString().ShouldBe(use.GetProperty("id").GetString());
        result.GetProperty("is_error").GetBoolean().ShouldBeTrue();
        await SetApproval(project.Id, token, "never");
    }

    [Fact]
    public async Task a_model_that_wants_tools_past_the_last_round_is_stopped_and_every_round_is_charged()
    {
        var (project, token) = await Agent("anthropic");
        var admin = TestSettings.TokenFor(TestSettings.NewUser("admin"), roles: "pantheon-admin");
        var user = new System.IdentityModel.Tokens.Jwt.JwtSecurityTokenHandler().ReadJwtToken(token).Subject;
        await Host.Send(HttpMethod.Put, $"/api/admin/budgets/{user}", admin, new { monthly_tokens = 1_000_000 });
        var before = (await Host.GetJson<JsonElement>("/api/user/budget", token)).GetProperty("spent").GetInt64();
        Fake.Scripted([.. Enumerable.Range(0, ToolsFixture.MaxToolRounds + 1).Select(_ => ScriptedRound.Call("project_info", new { }))]);

        var events = await StreamChat(token,
            new { message = "loop", model = "anthropic/claude-3-5-sonnet-latest", project_id = project.Id, tools = true });

        events.Count(e => e.Name == "tool_result").ShouldBe(ToolsFixture.MaxToolRounds);
        var done = events.Last();
        done.Name.ShouldBe("done");
        done.Data.GetProperty("finish_reason").GetString().ShouldBe(AgentDecider.RoundsExhaustedReason);
        Fake.Requests.Count.ShouldBe(ToolsFixture.MaxToolRounds + 1);
        var budget = await Host.GetJson<JsonElement>("/api/user/budget", token);
        budget.GetProperty("spent").GetInt64().ShouldBe(before + (ToolsFixture.MaxToolRounds + 1) * (11 + 7));
        budget.GetProperty("reserved").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task a_screenshot_goes_as_an_image_to_a_model_that_takes_images_and_as_text_to_one_that_does_not()
    {
        var (project, token) = await Agent("openai");
        List<JsonElement> Sent() => [.. Fake.Requests.Last().Body.GetProperty("messages").EnumerateArray()];
        static bool HasImage(List<JsonElement> messages) => messages.Any(m =>
            m.TryGetProperty("content", out var parts) && parts.ValueKind == JsonValueKind.Array
            && parts.EnumerateArray().Any(p => p.GetProperty("type").GetString() == "image_url"));

        Fake.Scripted(ScriptedRound.Call("screenshot", new { }), new ScriptedRound("I see it."));
        var seeing = await Chat(token, new { message = "look", model = "openai/gpt-4o", project_id = project.Id, tools = true });
        seeing.GetProperty("reply").GetString().ShouldBe("I see it.");
        var toSeeing = Sent();
        HasImage(toSeeing).ShouldBeTrue();
        toSeeing.Single(m => m.GetProperty("role").GetString() == "tool").GetProperty("content").GetString()!.ShouldNotContain("not shown");

        Fake.Requests.Clear();
        Fake.Scripted(ScriptedRound.Call("screenshot", new { }), new ScriptedRound("I read about it."));
        var blind = await Chat(token, new { message = "look again", model = ToolsFixture.TextOnlyModel, project_id = project.Id, tools = true });
        blind.GetProperty("reply").GetString().ShouldBe("I read about it.");
        var toBlind = Sent();
        HasImage(toBlind).ShouldBeFalse(string.Join('\n', toBlind));
        var told = toBlind.Last(m => m.GetProperty("role").GetString() == "tool").GetProperty("content").GetString()!;
        told.ShouldContain("screenshot returned a 1024x768 image/png image, not shown: this model does not take images.");
        var step = blind.GetProperty("steps").EnumerateArray().ShouldHaveSingleItem();
        step.GetProperty("is_error").GetBoolean().ShouldBeFalse();
        step.GetProperty("result").GetString()!.ShouldContain("not shown");
    }

    [Fact]
    public async Task a_tool_error_goes_back_to_the_model_which_carries_on()
    {
        var (project, token) = await Agent("openai");
        Fake.Scripted(ScriptedRound.Call("read_file", new { path = "../../etc/passwd" }), new ScriptedRound("Not allowed, then."));

        var reply = await Chat(token, new { message = "escape", model = "openai/gpt-4o", project_id = project.Id, tools = true });

        reply.GetProperty("reply").GetString().ShouldBe("Not allowed, then.");
        var step = reply.GetProperty("steps").EnumerateArray().ShouldHaveSingleItem();
        step.GetProperty("is_error").GetBoolean().ShouldBeTrue();
        step.GetProperty("result").GetString()!.ShouldContain("'..'");
        step.GetProperty("approval").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task an_agent_turn_on_a_stopped_project_starts_it_and_runs_once_its_vm_is_ready()
    {
        // A project of its own: stopping it must not take the VM from under the collection's other tests.
        var (project, token) = await Agent("openai", project: 2);
        await Host.Lifecycle(token, project.Id, "stop");
        await Host.WaitFor(token, project.Id, ProjectStatus.Stopped, seconds: 120);
        Fake.Scripted(ScriptedRound.Call("project_info", new { }), new ScriptedRound("It runs."));

        var reply = await Chat(token, new { message = "how is it?", model = "openai/gpt-4o", project_id = project.Id, tools = true });

        reply.GetProperty("reply").GetString().ShouldBe("It runs.");
        var step = reply.GetProperty("steps").EnumerateArray().ShouldHaveSingleItem();
        step.GetProperty("is_error").GetBoolean().ShouldBeFalse();
        JsonDocument.Parse(step.GetProperty("result").GetString()!).RootElement.GetProperty("status").GetString().ShouldBe("ready");
        (await Host.Find(token, project.Id))!.Status.ShouldBe(ProjectStatus.Ready);
    }

    [Fact]
    public async Task tools_need_a_project_and_the_tool_approval_setting_is_validated()
    {
        var (project, token) = await Agent("openai");
        await Host.ShouldRejectField(HttpMethod.Post, "/api/chat", token, """{"message":"hi","tools":true}""", "project_id");
        await Host.ShouldRejectField(HttpMethod.Put, $"/api/projects/{project.Id}/settings", token, """{"tool_approval":"sometimes"}""",
            "tool_approval");
        await Host.ShouldRejectField(HttpMethod.Put, $"/api/projects/{project.Id}/settings", token, """{"tool_approval":["rm_rf"]}""",
            "tool_approval");
        var stranger = TestSettings.TokenFor(TestSettings.NewUser("stranger"));
        await Host.Send(HttpMethod.Put, $"/api/projects/{project.Id}/settings", stranger, new { tool_approval = "always" }, status: 404);
        await SetApproval(project.Id, token, new[] { "type_text" });
        (await Host.GetJson<JsonElement>($"/api/projects/{project.Id}/settings", token)).GetProperty("tool_approval")[0].GetString()
            .ShouldBe("type_text");
        await SetApproval(project.Id, token, "never");
        (await Host.GetJson<JsonElement>($"/api/projects/{project.Id}/settings", token)).GetProperty("tool_approval").GetString()
            .ShouldBe("never");
    }

    /// <summary>The desktop project and its owner's token, with a key for <paramref name="provider"/>; the fake's record cleared.</summary>
    private async Task<(DesktopProject Project, string Token)> Agent(string provider, int project = 0) => await Agent(provider, await tools.ProjectAsync(project));

    private async Task<(DesktopProject Project, string Token)> Agent(string provider, DesktopProject project)
    {
        await Host.Send(HttpMethod.Post, "/api/user/api-keys", project.Token,
            new { name = $"{provider}-{Guid.NewGuid():N}"[..20], provider, key = $"sk-{provider}-agent-key-1234" }, status: 201);
        Fake.Behavior = new FakeBehavior();
        Fake.Requests.Clear();
        return (project, project.Token);
    }

    private Task SetApproval(Guid project, string token, object approval) =>
        Host.Send(HttpMethod.Put, $"/api/projects/{project}/settings", token, new { tool_approval = approval });

    private async Task<List<JasperFx.Events.IEvent>> Timeline(Guid project, string token)
    {
        var user = new System.IdentityModel.Tokens.Jwt.JwtSecurityTokenHandler().ReadJwtToken(token).Subject;
        await using var session = Host.DocumentStore().QuerySession();
        return [.. await session.Events.FetchStreamAsync(Pantheon.Domain.Users.UserId.ConversationStreamFor(user, project))];
    }

    private async Task<JsonElement> Chat(string token, object body) =>
        await (await Host.Send(HttpMethod.Post, "/api/chat", token, body)).ReadAsJsonAsync<JsonElement>();

    private async Task<List<JsonElement>> History(string token, Guid project) =>
        (await Host.GetJson<JsonElement>($"/api/chat/history?project_id={project}", token)).GetProperty("turns").EnumerateArray().ToList();

    /// <summary>A streamed chat read event by event; <paramref name="onEvent"/> sees each as it arrives (to answer approvals).</summary>
    private async Task<List<(string Name, JsonElement Data)>> StreamChat(string token, object body,
        Func<string, JsonElement, Task>? onEvent = null)
    {
        using var client = Host.Server.CreateClient();
        client.Timeout = TimeSpan.FromMinutes(5);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat")
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        // Only a failure's body is read here: reading it as an assertion's message would wait for the whole stream.
        if (response.StatusCode != HttpStatusCode.OK)
            throw new ShouldAssertException($"POST /api/chat answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<(string, JsonElement)>();
        string? name = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = JsonSerializer.Deserialize<JsonElement>(line[6..]);
                events.Add((name!, data));
                if (onEvent is not null) await onEvent(name!, data);
            }
        }
        return events;
    }
}
