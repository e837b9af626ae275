using System.Text.Json;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Settings;

namespace Pantheon.Domain.Tests.Chat;

public class AgentDeciderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private static readonly AgentRules Rules = new(MaxToolRounds: 2, ApprovalTimeout: TimeSpan.FromSeconds(30));
    private static readonly Turn Turn = new(Guid.NewGuid(), Guid.NewGuid(), "alice", "openai/gpt-4o",
        new TurnTarget("openai", "gpt-4o", null, null), new ModelParameters(), [], "do it");

    private static RequestedCall Call(string tool, string json = "{}") =>
        new($"call_{tool}", tool, JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!);

    private static RoundDecision Round(int round, ToolApproval approval, params RequestedCall[] calls) =>
        AgentDecider.Round(Turn, round, calls, approval, Rules, Guid.NewGuid, Now);

    [Fact]
    public void a_round_without_tool_calls_is_the_answer()
    {
        Round(1, ToolApproval.None).ShouldBeOfType<RoundAnswered>();
        Round(3, ToolApproval.None).ShouldBeOfType<RoundAnswered>(); // a final answer is fine after the last tool round
    }

    [Fact]
    public void tool_calls_after_the_last_round_end_the_turn_and_none_of_them_runs()
    {
        Round(2, ToolApproval.None, Call("screenshot")).ShouldBeOfType<RunCalls>();
        Round(3, ToolApproval.None, Call("screenshot")).ShouldBeOfType<RoundsExhausted>().Notice.ShouldContain("Chat:MaxToolRounds");
    }

    [Fact]
    public void each_call_is_recorded_with_its_round_and_arguments_and_secrets_never_are()
    {
        var run = Round(1, ToolApproval.None, Call("screenshot"), Call("write_file", """{"path":"a.txt","content":"hello"}""")).ShouldBeOfType<RunCalls>();
        run.Calls.Count.ShouldBe(2);
        run.Calls.ShouldAllBe(c => !c.NeedsApproval);
        var events = run.Events.Cast<ToolCallRequested>().ToList();
        events.Select(e => (e.Tool, e.Round, e.ProviderCallId)).ShouldBe([("screenshot", 1, "call_screenshot"), ("write_file", 1, "call_write_file")]);
        events[1].Arguments.ShouldBe("""{"path":"a.txt","content":"[5 characters]"}""");
        events.Select(e => e.CallId).ShouldBe(run.Calls.Select(c => c.CallId));
        events.ShouldAllBe(e => e.MessageId == Turn.MessageId && e.ConversationId == Turn.ConversationId);
    }

    [Fact]
    public void the_projects_setting_decides_which_calls_wait_for_approval_and_until_when()
    {
        var listed = ToolApproval.From(null, ["type_text"]).Approval!;
        var run = Round(1, listed, Call("screenshot"), Call("type_text", """{"text":"ls"}""")).ShouldBeOfType<RunCalls>();
        run.Calls.Select(c => c.NeedsApproval).ShouldBe([false, true]);
        run.Events.Select(e => e.GetType()).ShouldBe([typeof(ToolCallRequested), typeof(ToolCallRequested)]);
        var later = Now.AddSeconds(12); // the first call ran meanwhile: the second's approval counts from when it is asked for
        AgentDecider.AwaitApproval(Turn, run.Calls[1], Rules, later).ExpiresAt.ShouldBe(later.AddSeconds(30));

        Round(1, ToolApproval.From("always", null).Approval!, Call("screenshot")).ShouldBeOfType<RunCalls>().Calls[0].NeedsApproval.ShouldBeTrue();
        Round(1, ToolApproval.None, Call("type_text")).ShouldBeOfType<RunCalls>().Calls[0].NeedsApproval.ShouldBeFalse();
    }

    [Fact]
    public void an_approved_call_runs_and_a_refused_or_expired_one_gives_the_model_an_error_saying_why()
    {
        var call = new PlannedCall(Guid.NewGuid(), Call("type_text"), NeedsApproval: true);
        var (approved, none) = AgentDecider.Answered(Turn, call, ApprovalAnswers.Approved, Rules.ApprovalTimeout, Now);
        none.ShouldBeNull();
        approved.ShouldHaveSingleItem().ShouldBeOfType<ToolApprovalAnswered>().Answer.ShouldBe("approved");

        var (refused, why) = AgentDecider.Answered(Turn, call, ApprovalAnswers.Refused, Rules.ApprovalTimeout, Now);
        why.ShouldBe("The user refused this call of type_text: it did not run.");
        refused[1].ShouldBeOfType<ToolResultReceived>().IsError.ShouldBeTrue();

        var (expired, timeout) = AgentDecider.Answered(Turn, call, ApprovalAnswers.Expired, Rules.ApprovalTimeout, Now);
        timeout!.ShouldContain("within 30 s (Chat:ApprovalTimeoutSeconds)");
        expired[0].ShouldBeOfType<ToolApprovalAnswered>().Answer.ShouldBe("expired");
    }

    [Fact]
    public void a_turn_waiting_for_approval_is_due_only_after_the_approval_expires()
    {
        var expires = Now.AddMinutes(5);
        AgentDecider.ActiveAt(new ToolApprovalRequested(Turn.ConversationId, Turn.MessageId, Guid.NewGuid(), "x", "{}", expires, Now))
            .ShouldBe(expires);
        AgentDecider.ActiveAt(new ToolResultReceived(Turn.ConversationId, Turn.MessageId, Guid.NewGuid(), "x", "ok", false, 3, Now))
            .ShouldBe(Now);
        AgentDecider.ActiveAt(new MessageSent(Turn.ConversationId, Turn.MessageId, "alice", null, "hi", "m", Now)).ShouldBeNull();
        TurnDecider.IsAbandoned(expires, expires.AddMinutes(10), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1)).ShouldBeFalse();
    }

    [Fact]
    public void an_agents_steps_show_in_the_history_but_never_go_back_to_the_model_as_context()
    {
        var call = new ToolCallRequested(Turn.ConversationId, Turn.MessageId, Guid.NewGuid(), "c", 1, "read_file", """{"path":"a"}""", Now);
        var result = new ToolResultReceived(Turn.ConversationId, Turn.MessageId, call.CallId, "read_file", "hello", false, 4, Now);
        ChatTurn.Of(call).Role.ShouldBe(TurnRole.ToolCall);
        ChatTurn.Of(result).Content.ShouldBe("read_file: hello");
        var user = new ChatTurn(Turn.MessageId, TurnRole.User, "hi", "m", Now, TurnStatus.Sent);
        ChatTurn.Context([user, ChatTurn.Of(call), ChatTurn.Of(result)], 1000).ShouldBe([user]);
    }
}

public class ToolApprovalTests
{
    [Fact]
    public void the_setting_is_never_always_or_a_list_of_known_tools()
    {
        ToolApproval.From("never", null).Approval.ShouldBe(ToolApproval.None);
        ToolApproval.From("always", null).Approval!.Needs("screenshot").ShouldBeTrue();
        ToolApproval.From("sometimes", null).Error.ShouldBe(ToolApproval.Expected + ".");
        ToolApproval.From(null, ["type_text", "rm_rf"]).Error!.ShouldContain("unknown: rm_rf");
        var listed = ToolApproval.From(null, ["type_text", "type_text"]).Approval!;
        listed.Tools.ShouldBe(["type_text"]);
        listed.Needs("type_text").ShouldBeTrue();
        listed.Needs("screenshot").ShouldBeFalse();
    }

    [Fact]
    public void setting_it_records_a_change_only()
    {
        var project = new Project { Id = Guid.NewGuid(), Status = ProjectStatus.Ready };
        var now = DateTimeOffset.UnixEpoch;
        ProjectDecider.SetToolApproval(project, ToolApproval.None, now).ShouldBeEmpty();
        var changed = ProjectDecider.SetToolApproval(project, ToolApproval.From(null, ["write_file"]).Approval!, now)
            .ShouldHaveSingleItem().ShouldBeOfType<ToolApprovalChanged>();
        project.Apply(changed);
        project.ToolApproval.Needs("write_file").ShouldBeTrue();
        ProjectDecider.SetToolApproval(project, ToolApproval.From(null, ["write_file"]).Approval!, now).ShouldBeEmpty();
    }
}
