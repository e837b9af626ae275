namespace Pantheon.Domain.Chat;

/// <summary>
/// What a turn needs of its conversation: the version its message is appended after, and the earlier turns that go back
/// to the model (those in context that fit the history budget, oldest first). Kept current event by event, so a process
/// that saw every event of a conversation plans its next turn without reading it.
/// </summary>
public sealed record ConversationContext(long Version, IReadOnlyList<ChatTurn> Turns)
{
    public static readonly ConversationContext Empty = new(0, []);

    /// <summary>Whether the event is one of those appended to a conversation's stream.</summary>
    public static bool IsConversationEvent(object data) => data is MessageSent or ReplyReceived or ReplyFailed or ReplyInterrupted
        or UsageRecorded or ChatCleared or ToolCallRequested or ToolApprovalRequested or ToolApprovalAnswered or ToolResultReceived;

    /// <summary>
    /// The context after the event at <paramref name="version"/>: a turn that goes back to the model joins it (the oldest
    /// fall out past <paramref name="budgetCharacters"/>), a clear empties it, any other event only moves the version.
    /// </summary>
    public ConversationContext Then(long version, object data, int budgetCharacters) => data switch
    {
        ChatCleared => new(version, []),
        _ when ChatTurn.From(data) is { GoesInContext: true, Content.Length: > 0 } turn =>
            new(version, ChatTurn.Context([.. Turns, turn], budgetCharacters)),
        _ => this with { Version = version },
    };
}
