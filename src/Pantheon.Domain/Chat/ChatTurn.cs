namespace Pantheon.Domain.Chat;

public enum TurnRole { User, Assistant }

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

    public static ChatTurn Of(ReplyFailed e) => new(e.MessageId, TurnRole.Assistant, e.Message, e.Model, e.At, TurnStatus.Failed);

    /// <summary>Whether a later message sends this turn back to the model: failures never go.</summary>
    public bool GoesInContext => Status is not TurnStatus.Failed;

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
