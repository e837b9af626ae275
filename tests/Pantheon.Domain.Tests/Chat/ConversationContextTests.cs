using Pantheon.Domain.Chat;

namespace Pantheon.Domain.Tests.Chat;

public class ConversationContextTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Conversation = Guid.NewGuid();

    [Fact]
    public void a_conversation_kept_event_by_event_holds_the_turns_a_read_of_its_history_would_send()
    {
        var (first, second, third) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        object[] events =
        [
            new MessageSent(Conversation, first, "u", null, "aaaaaaaaaa", "m", Now),
            new ReplyReceived(Conversation, first, "bbbbbbbbbb", "m", "stop", 1, 1, 1, false, Now),
            new UsageRecorded("u", "openrouter", "m", null, 1, 1, Now),
            new MessageSent(Conversation, second, "u", null, "cccccccccc", "m", Now),
            new ReplyFailed(Conversation, second, "m", 500, "provider broke", Now),
            new MessageSent(Conversation, third, "u", null, "dddddddddd", "m", Now),
            new ReplyInterrupted(Conversation, third, "m", "the process died", Now),
        ];

        var context = ConversationContext.Empty;
        for (var i = 0; i < events.Length; i++) context = context.Then(i + 1, events[i], budgetCharacters: 25);

        context.Version.ShouldBe(events.Length);
        // The failure and the empty interrupted reply never go back; the oldest turns fall out past the budget.
        context.Turns.Select(t => t.Content).ShouldBe(["cccccccccc", "dddddddddd"]);
        context.Turns.ShouldBe(ChatTurn.Context(events.Select(ChatTurn.From).OfType<ChatTurn>().Where(t => t.Content.Length > 0), 25));
    }

    [Fact]
    public void a_cleared_conversation_sends_no_earlier_turn_and_keeps_its_version()
    {
        var context = ConversationContext.Empty
            .Then(1, new MessageSent(Conversation, Guid.NewGuid(), "u", null, "hello", "m", Now), 1000)
            .Then(2, new ChatCleared(Conversation, "u", Now), 1000);

        context.ShouldBe(new ConversationContext(2, []), new ConversationContextComparer());
        ConversationContext.IsConversationEvent(new ChatCleared(Conversation, "u", Now)).ShouldBeTrue();
        ConversationContext.IsConversationEvent(new CustomModelRemoved(Guid.NewGuid(), "u", Now)).ShouldBeFalse();
    }

    private sealed class ConversationContextComparer : IEqualityComparer<ConversationContext>
    {
        public bool Equals(ConversationContext? x, ConversationContext? y) =>
            x is not null && y is not null && x.Version == y.Version && x.Turns.SequenceEqual(y.Turns);

        public int GetHashCode(ConversationContext obj) => obj.Version.GetHashCode();
    }
}
