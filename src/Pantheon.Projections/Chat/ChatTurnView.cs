using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using Pantheon.Domain.Chat;

namespace Pantheon.Projections.Chat;

/// <summary>
/// One turn of a conversation as its own row, so that a chat reads only the newest turns that fit its budget and the
/// history pages, instead of loading every turn of the conversation.
/// </summary>
public sealed class ChatTurnView
{
    public Guid Id { get; set; }
    public Guid ConversationId { get; set; }

    /// <summary>The conversation's user (the events' <c>user_name</c>): the row's owner for row-level security.</summary>
    public string? UserId { get; set; }

    /// <summary>The version of the event in the conversation's stream: the conversation's order and the paging cursor.</summary>
    public long Position { get; set; }

    public Guid MessageId { get; set; }
    public TurnRole Role { get; set; }
    public string Content { get; set; } = "";
    public string Model { get; set; } = "";
    public DateTimeOffset At { get; set; }
    public TurnStatus Status { get; set; }

    /// <summary>What this turn costs in a later prompt, in characters: 0 for turns that never go back (failures).</summary>
    public int ContextLength { get; set; }

    public ChatTurn ToTurn() => new(MessageId, Role, Content, Model, At, Status);

    public static ChatTurnView From(ChatTurn turn, Guid conversationId, Guid id, long position, string? userId) => new()
    {
        Id = id, ConversationId = conversationId, UserId = userId, Position = position, MessageId = turn.MessageId, Role = turn.Role,
        Content = turn.Content, Model = turn.Model, At = turn.At, Status = turn.Status,
        ContextLength = turn.GoesInContext ? turn.Content.Length : 0,
    };

    /// <summary>The reply's row id, derived from its message's so that a rebuild writes the same rows.</summary>
    public static Guid ReplyId(Guid messageId)
    {
        var bytes = messageId.ToByteArray();
        bytes[15] ^= 0xFF;
        return new Guid(bytes);
    }
}

/// <summary>
/// A message whose turn has no outcome yet (no reply, failure or interruption recorded): what the sweeper of abandoned
/// turns looks at. Its id is the message's.
/// </summary>
public sealed class OpenTurn
{
    public Guid Id { get; set; }
    public Guid ConversationId { get; set; }
    public string UserId { get; set; } = "";
    public string Model { get; set; } = "";
    public DateTimeOffset SentAt { get; set; }

    /// <summary>
    /// For an agent turn: from when its next step is due (its last step, or a pending approval's expiry; see
    /// <see cref="AgentDecider.ActiveAt"/>). Null for a plain turn, which counts from <see cref="SentAt"/>.
    /// </summary>
    public DateTimeOffset? ActiveAt { get; set; }

    /// <summary>From when the sweeper counts this turn's time without an outcome.</summary>
    public DateTimeOffset DueFrom() => ActiveAt is { } active && active > SentAt ? active : SentAt;

    /// <summary>The message's version in the conversation's stream, where its correlation id is read back.</summary>
    public long Position { get; set; }
}

/// <summary>
/// Inline: a turn is on the conversation's history as soon as its event commits. The position is the event's
/// version, known at append because chat appends carry the version they expect (see <c>ChatRecorder</c>).
/// </summary>
public sealed class ChatTurnProjection : IProjection
{
    public const string Name = "ChatTurns";

    public async Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        foreach (var e in events)
        {
            if (AgentDecider.ActiveAt(e.Data) is { } active && MessageOf(e.Data) is { } message
                && await operations.LoadAsync<OpenTurn>(message, cancellation) is { } open)
            {
                open.ActiveAt = active;
                operations.Store(open);
            }
            switch (e.Data)
            {
                case ToolCallRequested c:
                    operations.Store(ChatTurnView.From(ChatTurn.Of(c), c.ConversationId, c.CallId, e.Version, e.UserName));
                    break;
                case ToolResultReceived r:
                    operations.Store(ChatTurnView.From(ChatTurn.Of(r), r.ConversationId, ChatTurnView.ReplyId(r.CallId), e.Version, e.UserName));
                    break;
                case MessageSent m:
                    operations.Store(ChatTurnView.From(ChatTurn.Of(m), m.ConversationId, m.MessageId, e.Version, e.UserName));
                    operations.Store(new OpenTurn
                    {
                        Id = m.MessageId, ConversationId = m.ConversationId, UserId = m.UserId, Model = m.Model, SentAt = m.At,
                        Position = e.Version,
                    });
                    break;
                case ReplyReceived r:
                    operations.Store(ChatTurnView.From(ChatTurn.Of(r), r.ConversationId,
                        ChatTurnView.ReplyId(r.MessageId), e.Version, e.UserName));
                    operations.Delete<OpenTurn>(r.MessageId);
                    break;
                case ReplyFailed f:
                    operations.Store(ChatTurnView.From(ChatTurn.Of(f), f.ConversationId,
                        ChatTurnView.ReplyId(f.MessageId), e.Version, e.UserName));
                    operations.Delete<OpenTurn>(f.MessageId);
                    break;
                case ReplyInterrupted i:
                    operations.Store(ChatTurnView.From(ChatTurn.Of(i), i.ConversationId,
                        ChatTurnView.ReplyId(i.MessageId), e.Version, e.UserName));
                    operations.Delete<OpenTurn>(i.MessageId);
                    break;
                case ChatCleared c:
                    operations.DeleteWhere<ChatTurnView>(t => t.ConversationId == c.ConversationId);
                    break;
            }
        }
    }

    private static Guid? MessageOf(object data) => data switch
    {
        ToolCallRequested e => e.MessageId,
        ToolApprovalRequested e => e.MessageId,
        ToolApprovalAnswered e => e.MessageId,
        ToolResultReceived e => e.MessageId,
        _ => null,
    };
}
