using Pantheon.Domain.Chat;

namespace Pantheon.Domain.Tests.Chat;

public class ChatDomainTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("openai/gpt-4o", "openai", "gpt-4o")]
    [InlineData("openrouter/meta-llama/llama-3.1-70b-instruct", "openrouter", "meta-llama/llama-3.1-70b-instruct")]
    [InlineData("anthropic/claude-3-5-sonnet-latest", "anthropic", "claude-3-5-sonnet-latest")]
    [InlineData("gemini/gemini-1.5-pro", "gemini", "gemini-1.5-pro")]
    [InlineData("meta-llama/llama-3.1-8b", "openrouter", "meta-llama/llama-3.1-8b")]
    [InlineData("gpt-4o", "openrouter", "gpt-4o")]
    public void a_model_id_routes_by_its_provider_prefix_and_otherwise_to_openrouter(string id, string provider, string model)
    {
        ModelRoute.For(id).ShouldBe(new ModelRoute(provider, model));
    }

    [Fact]
    public void the_context_drops_the_oldest_turns_first_and_skips_failed_replies()
    {
        var id = Guid.NewGuid();
        List<ChatTurn> turns =
        [
            ChatTurn.Of(new MessageSent(id, Guid.NewGuid(), "u", null, "aaaaaaaaaa", "m", Now)),
            ChatTurn.Of(new ReplyReceived(id, Guid.NewGuid(), "bbbbbbbbbb", "m", "stop", 1, 1, 1, false, Now)),
            ChatTurn.Of(new MessageSent(id, Guid.NewGuid(), "u", null, "cccccccccc", "m", Now)),
            ChatTurn.Of(new ReplyFailed(id, Guid.NewGuid(), "m", 500, "provider broke", Now)),
            ChatTurn.Of(new MessageSent(id, Guid.NewGuid(), "u", null, "dddddddddd", "m", Now)),
        ];

        ChatTurn.Context(turns, budgetCharacters: 25).Select(t => t.Content).ShouldBe(["cccccccccc", "dddddddddd"]);
        ChatTurn.Context(turns, budgetCharacters: 1000).Select(t => t.Content)
            .ShouldBe(["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"]);
    }

    [Fact]
    public void a_cut_reply_is_truncated_and_an_abandoned_one_interrupted()
    {
        var id = Guid.NewGuid();
        ChatTurn.Of(new ReplyReceived(id, id, "x", "m", ChatTurn.Truncated, 1, 1, 1, false, Now)).Status.ShouldBe(TurnStatus.Truncated);
        ChatTurn.Of(new ReplyReceived(id, id, "x", "m", ChatTurn.Interrupted, 1, 1, 1, true, Now)).Status.ShouldBe(TurnStatus.Interrupted);
        ChatTurn.Of(new ReplyReceived(id, id, "x", "m", "stop", 1, 1, 1, false, Now)).Status.ShouldBe(TurnStatus.Complete);
    }
}
