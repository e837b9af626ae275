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
        var history = ChatHistory.Create(new MessageSent(id, Guid.NewGuid(), "u", null, "aaaaaaaaaa", "m", Now));
        history.Apply(new ReplyReceived(id, Guid.NewGuid(), "bbbbbbbbbb", "m", "stop", 1, 1, 1, false, Now));
        history.Apply(new MessageSent(id, Guid.NewGuid(), "u", null, "cccccccccc", "m", Now));
        history.Apply(new ReplyFailed(id, Guid.NewGuid(), "m", 500, "provider broke", Now));
        history.Apply(new MessageSent(id, Guid.NewGuid(), "u", null, "dddddddddd", "m", Now));

        ChatHistory.Context(history.Turns, budgetCharacters: 25).Select(t => t.Content).ShouldBe(["cccccccccc", "dddddddddd"]);
        ChatHistory.Context(history.Turns, budgetCharacters: 1000).Select(t => t.Content).ShouldBe(["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"]);
    }

    [Fact]
    public void clearing_forgets_every_turn()
    {
        var id = Guid.NewGuid();
        var history = ChatHistory.Create(new MessageSent(id, Guid.NewGuid(), "u", null, "hi", "m", Now));
        history.Apply(new ChatCleared(id, "u", Now));
        history.Turns.ShouldBeEmpty();
    }
}
