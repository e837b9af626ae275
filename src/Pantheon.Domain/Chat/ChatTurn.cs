namespace Pantheon.Domain.Chat;

/// <summary>Who a turn is: the user's message, the model's reply, or a step of an agent turn (a tool call, its result).</summary>
public enum TurnRole { User, Assistant, ToolCall, ToolResult }

public enum TurnStatus { Sent, Complete, Interrupted, Truncated, Failed }

/// <summary>One turn of a conversation: a user's message or the reply to it (<see cref="MessageId"/> ties the two).</summary>
public sealed record ChatTurn(Guid MessageId, TurnRole Role, string Content, string Model, DateTimeOffset At, TurnStatus Status)
{
    /// <summary>The finish reason of a reply cut at <c>Chat:MaxReplyCharacters</c>.</summary>
    public const string Truncated = "truncated";

    /// <summary>The finish reason of a reply whose client left mid-stream.</summary>
    public const string Interrupted = "interrupted";

    public static ChatTurn Of(MessageSent e) => new(e.MessageId, TurnRole.User, e.Content, e.Model, e.At, TurnStatus.Sent);

    public static ChatTurn Of(ReplyReceived e) => new(e.MessageId, TurnRole.Assistant, e.Text, e.Model, e.At,
        e.Interrupted ? TurnStatus.Interrupted : e.FinishReason == Truncated ? TurnStatus.Truncated : TurnStatus.Complete);

    public static ChatTurn Of(ReplyInterrupted e) => new(e.MessageId, TurnRole.Assistant, "", e.Model, e.At, TurnStatus.Interrupted);

    /// <summary>A tool call of an agent turn, its content the tool and its (recorded) arguments.</summary>
    public static ChatTurn Of(ToolCallRequested e) =>
        new(e.MessageId, TurnRole.ToolCall, $"{e.Tool} {e.Arguments}", "", e.At, TurnStatus.Sent);

    public static ChatTurn Of(ToolResultReceived e) =>
        new(e.MessageId, TurnRole.ToolResult, $"{e.Tool}: {e.Summary}", "", e.At, e.IsError ? TurnStatus.Failed : TurnStatus.Complete);

    public static ChatTurn Of(ReplyFailed e) => new(e.MessageId, TurnRole.Assistant, e.Message, e.Model, e.At, TurnStatus.Failed);

    /// <summary>The turn an event of a conversation adds to its history, if it adds one.</summary>
    public static ChatTurn? From(object data) => data switch
    {
        MessageSent e => Of(e),
        ReplyReceived e => Of(e),
        ReplyFailed e => Of(e),
        ReplyInterrupted e => Of(e),
        ToolCallRequested e => Of(e),
        ToolResultReceived e => Of(e),
        _ => null,
    };

    /// <summary>Whether a later message sends this turn back to the model: failures and an agent's steps never go.</summary>
    public bool GoesInContext => Status is not TurnStatus.Failed && Role is TurnRole.User or TurnRole.Assistant;

    /// <summary>
    /// The earlier turns to send with a new message: newest kept first until <paramref name="budgetCharacters"/>
    /// is spent, returned oldest first. <paramref name="turns"/> are in conversation order.
    /// </summary>
    public static IReadOnlyList<ChatTurn> Context(IEnumerable<ChatTurn> turns, int budgetCharacters)
    {
        var kept = new List<ChatTurn>();
        var spent = 0;
        foreach (var turn in turns.Where(t => t.GoesInContext).Reverse())
        {
            spent += turn.Content.Length;
            if (spent > budgetCharacters) break;
            kept.Add(turn);
        }
        kept.Reverse();
        return kept;
    }
}
