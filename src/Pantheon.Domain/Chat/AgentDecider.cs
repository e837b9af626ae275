using System.Text.Json;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Tools;

namespace Pantheon.Domain.Chat;

/// <summary>A tool call as the model asked for it: its own id, the tool, and the arguments' JSON object.</summary>
public sealed record RequestedCall(string ProviderCallId, string Tool, IReadOnlyDictionary<string, JsonElement> Arguments);

/// <summary>One call the round runs: ours and the model's ids, and whether it waits for the owner's approval first.</summary>
public sealed record PlannedCall(Guid CallId, RequestedCall Request, bool NeedsApproval);

/// <summary>The <c>Chat</c> settings an agent round depends on.</summary>
public sealed record AgentRules(int MaxToolRounds, TimeSpan ApprovalTimeout);

/// <summary>What a model call that ended means for the agent turn.</summary>
public abstract record RoundDecision;

/// <summary>No tool asked for: the model's text is the reply.</summary>
public sealed record RoundAnswered : RoundDecision;

/// <summary>The model asked for tools after <c>Chat:MaxToolRounds</c> rounds: the turn ends, none of them run.</summary>
public sealed record RoundsExhausted(string Notice) : RoundDecision;

/// <summary>Run these calls (some after approval), recording <see cref="Events"/> first.</summary>
public sealed record RunCalls(IReadOnlyList<PlannedCall> Calls, object[] Events) : RoundDecision;

/// <summary>
/// The pure rules of the agent loop: what a round runs, which calls wait for approval, when rounds are exhausted, and
/// the events (on the conversation's stream) that make the turn a timeline.
/// </summary>
public static class AgentDecider
{
    /// <summary>The finish reason of a turn that ended because the model still wanted tools after the last round.</summary>
    public const string RoundsExhaustedReason = "tool_rounds_exhausted";

    /// <summary>
    /// The model's call number <paramref name="round"/> (1-based) ended with <paramref name="calls"/>. Rounds 1 to
    /// <see cref="AgentRules.MaxToolRounds"/> may run tools; a model that asks for more after them is stopped.
    /// </summary>
    public static RoundDecision Round(Turn turn, int round, IReadOnlyList<RequestedCall> calls, ToolApproval approval, AgentRules rules,
        Func<Guid> newId, DateTimeOffset now)
    {
        if (calls.Count == 0) return new RoundAnswered();
        if (round > rules.MaxToolRounds)
            return new RoundsExhausted($"[The turn ended: the model asked for more tools after {rules.MaxToolRounds} rounds "
                + "(Chat:MaxToolRounds).]");
        var planned = calls.Select(c => new PlannedCall(newId(), c, approval.Needs(c.Tool))).ToList();
        var events = planned.Select(call => (object)new ToolCallRequested(turn.ConversationId, turn.MessageId, call.CallId,
            call.Request.ProviderCallId, round, call.Request.Tool, ToolRules.RecordedArguments(call.Request.Arguments), now));
        return new RunCalls(planned, [.. events]);
    }

    /// <summary>
    /// A call that needs approval waits for it when its turn comes (the calls of a round run in order): it expires
    /// <see cref="AgentRules.ApprovalTimeout"/> from then.
    /// </summary>
    public static ToolApprovalRequested AwaitApproval(Turn turn, PlannedCall call, AgentRules rules, DateTimeOffset now) =>
        new(turn.ConversationId, turn.MessageId, call.CallId, call.Request.Tool, ToolRules.RecordedArguments(call.Request.Arguments),
            now + rules.ApprovalTimeout, now);

    /// <summary>
    /// How an approval ended. Approved: the answer only, the call runs next. Refused or expired: the answer and the result
    /// the model gets instead of the tool's (an error saying why), with that text.
    /// </summary>
    public static (object[] Events, string? Result) Answered(Turn turn, PlannedCall call, string answer, TimeSpan timeout,
        DateTimeOffset now)
    {
        var answered = new ToolApprovalAnswered(turn.ConversationId, turn.MessageId, call.CallId, call.Request.Tool, answer, now);
        var result = answer switch
        {
            ApprovalAnswers.Approved => null,
            ApprovalAnswers.Refused => $"The user refused this call of {call.Request.Tool}: it did not run.",
            _ => $"No one approved this call of {call.Request.Tool} within {timeout.TotalSeconds:0} s "
                + "(Chat:ApprovalTimeoutSeconds): it did not run.",
        };
        return result is null
            ? ([answered], null)
            : ([answered, Returned(turn, call, result, isError: true, durationMs: 0, now)], result);
    }

    /// <summary>What went back to the model for <paramref name="call"/>, shortened for the record.</summary>
    public static ToolResultReceived Returned(Turn turn, PlannedCall call, string text, bool isError, long durationMs, DateTimeOffset now) =>
        new(turn.ConversationId, turn.MessageId, call.CallId, call.Request.Tool, Shorten(text, 2000), isError, durationMs, now);

    /// <summary>
    /// From when a turn's next step is due: a live process ends each step (a model call, a tool call, both bounded by
    /// <c>Chat:MaxReplySeconds</c>) within the limit, and a call waiting for approval first waits until its expiry. The
    /// abandoned-turn sweeper counts from here (see <see cref="TurnDecider.IsAbandoned"/>).
    /// </summary>
    public static DateTimeOffset? ActiveAt(object e) => e switch
    {
        ToolApprovalRequested a => a.ExpiresAt,
        ToolCallRequested c => c.At,
        ToolApprovalAnswered a => a.At,
        ToolResultReceived r => r.At,
        _ => null,
    };

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
