namespace Pantheon.Domain.Chat;

public enum TurnRole { User, Assistant }

public enum TurnStatus { Sent, Complete, Interrupted, Failed }

public sealed record ChatTurn(Guid MessageId, TurnRole Role, string Content, string Model, DateTimeOffset At, TurnStatus Status);

/// <summary>One conversation, rebuilt from its stream; cleared turns are gone.</summary>
public sealed partial class ChatHistory
{
    public Guid Id { get; set; }
    public List<ChatTurn> Turns { get; set; } = [];

    public static ChatHistory Create(MessageSent e) => new() { Id = e.ConversationId, Turns = [Sent(e)] };

    public static ChatHistory Create(ChatCleared e) => new() { Id = e.ConversationId };

    public void Apply(MessageSent e) => Turns.Add(Sent(e));

    public void Apply(ReplyReceived e) =>
        Turns.Add(new ChatTurn(e.MessageId, TurnRole.Assistant, e.Text, e.Model, e.At, e.Interrupted ? TurnStatus.Interrupted : TurnStatus.Complete));

    public void Apply(ReplyFailed e) => Turns.Add(new ChatTurn(e.MessageId, TurnRole.Assistant, e.Message, e.Model, e.At, TurnStatus.Failed));

    public void Apply(ChatCleared e) => Turns.Clear();

    private static ChatTurn Sent(MessageSent e) => new(e.MessageId, TurnRole.User, e.Content, e.Model, e.At, TurnStatus.Sent);

    /// <summary>
    /// The earlier turns to send with a new message: user messages and the replies that completed, newest kept
    /// first until <paramref name="budgetCharacters"/> is spent, returned oldest first.
    /// </summary>
    public static IReadOnlyList<ChatTurn> Context(IEnumerable<ChatTurn> turns, int budgetCharacters)
    {
        var kept = new List<ChatTurn>();
        var spent = 0;
        foreach (var turn in turns.Where(t => t.Status is TurnStatus.Sent or TurnStatus.Complete or TurnStatus.Interrupted).Reverse())
        {
            spent += turn.Content.Length;
            if (spent > budgetCharacters) break;
            kept.Add(turn);
        }
        kept.Reverse();
        return kept;
    }
}
