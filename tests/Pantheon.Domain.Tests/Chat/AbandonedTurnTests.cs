using Pantheon.Domain.Chat;

namespace Pantheon.Domain.Tests.Chat;

public class AbandonedTurnTests
{
    private static readonly DateTimeOffset Sent = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan MaxReply = TimeSpan.FromSeconds(600), Margin = TimeSpan.FromSeconds(60);

    [Fact]
    public void a_turn_is_abandoned_only_past_the_reply_limit_and_the_margin()
    {
        TurnDecider.IsAbandoned(Sent, Sent + MaxReply, MaxReply, Margin).ShouldBeFalse(); // a live process may still be recording it
        TurnDecider.IsAbandoned(Sent, Sent + MaxReply + Margin, MaxReply, Margin).ShouldBeFalse();
        TurnDecider.IsAbandoned(Sent, Sent + MaxReply + Margin + TimeSpan.FromMilliseconds(1), MaxReply, Margin).ShouldBeTrue();
    }

    [Fact]
    public void an_abandoned_turn_ends_interrupted_with_no_text()
    {
        var conversation = Guid.NewGuid();
        var message = Guid.NewGuid();
        var e = TurnDecider.Abandoned(conversation, message, "openai/gpt-4o", Sent);
        (e.ConversationId, e.MessageId, e.Model).ShouldBe((conversation, message, "openai/gpt-4o"));
        var turn = ChatTurn.Of(e);
        (turn.Role, turn.Status, turn.Content).ShouldBe((TurnRole.Assistant, TurnStatus.Interrupted, ""));
    }
}
