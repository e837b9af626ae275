using Pantheon.Domain.Chat;
using Pantheon.Domain.Settings;

namespace Pantheon.Domain.Tests.Chat;

public class TurnDeciderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly TurnRules Rules = new("openrouter/default-model", HistoryBudgetCharacters: 1000);
    private static readonly Guid Conversation = Guid.NewGuid();

    private static TurnState State(
        string? preferred = null, ModelParameters? saved = null, IReadOnlyList<CustomModel>? custom = null,
        IReadOnlyList<UsableKey>? keys = null, bool projectIsTheirs = true, params string[] systemKeys) =>
        new(Conversation, 4, projectIsTheirs, preferred, saved, custom ?? [], keys ?? [], systemKeys.ToHashSet(), []);

    private static TurnDecision Plan(TurnState state, string? model = null, ModelParameters? parameters = null) =>
        TurnDecider.Plan(new SendMessage("alice", "hi", null, model, parameters), state, Rules, Guid.NewGuid(), Now);

    [Fact]
    public void the_default_model_applies_when_neither_the_message_nor_the_user_names_one()
    {
        var planned = Plan(State(systemKeys: "openrouter")).ShouldBeOfType<TurnPlanned>();
        planned.Turn.ModelId.ShouldBe("openrouter/default-model");
        planned.Turn.Target.ShouldBe(new TurnTarget("openrouter", "default-model", null, null));
        planned.Sent.ShouldBe(new MessageSent(Conversation, planned.Turn.MessageId, "alice", null, "hi", "openrouter/default-model", Now));
    }

    [Fact]
    public void the_newest_key_of_the_provider_is_chosen_and_without_any_the_turn_is_refused_naming_the_provider()
    {
        var older = new UsableKey(Guid.NewGuid(), "openai", Now.AddDays(-2));
        var newer = new UsableKey(Guid.NewGuid(), "openai", Now.AddDays(-1));
        Plan(State(keys: [older, newer]), "openai/gpt-4o").ShouldBeOfType<TurnPlanned>().Turn.Target.KeyId.ShouldBe(newer.Id);
        Plan(State(), "openai/gpt-4o").ShouldBeOfType<TurnRefused>().ShouldBe(new TurnRefused(RefusalReason.NoKey,
            "There is no API key for provider 'openai': add one under /api/user/api-keys.", "openai"));
    }

    [Fact]
    public void parameters_come_from_the_message_then_the_custom_model_then_the_users_settings()
    {
        var custom = new CustomModel("my-llama", "https://models.example/v1", null, new ModelParameters { TopP = 0.5, Temperature = 0.1 });
        var saved = new ModelParameters { Temperature = 0.9, MaxTokens = 300, Seed = 3 };
        var turn = Plan(State(saved: saved, custom: [custom]), "my-llama", new ModelParameters { Temperature = 1.5 })
            .ShouldBeOfType<TurnPlanned>().Turn;
        turn.Target.ShouldBe(new TurnTarget(Turn.CustomProvider, "my-llama", "https://models.example/v1", null));
        turn.Parameters.ShouldBe(new ModelParameters { Temperature = 1.5, TopP = 0.5, MaxTokens = 300, Seed = 3 });
    }

    [Fact]
    public void a_custom_models_declared_input_modalities_go_with_its_target()
    {
        var custom = new CustomModel("seeing", "https://models.example/v1", null, new ModelParameters(), ["text", "image"]);
        var target = Plan(State(custom: [custom]), "seeing").ShouldBeOfType<TurnPlanned>().Turn.Target;
        target.InputModalities.ShouldBe(["text", "image"]);
        Plan(State(systemKeys: "openrouter"), "openrouter/x/y").ShouldBeOfType<TurnPlanned>().Turn.Target.InputModalities.ShouldBeNull();
    }

    [Fact]
    public void a_project_that_is_not_the_users_and_a_custom_model_whose_key_is_gone_are_refused()
    {
        Plan(State(projectIsTheirs: false)).ShouldBeOfType<TurnRefused>().Reason.ShouldBe(RefusalReason.ProjectNotFound);
        var custom = new CustomModel("mine", "https://models.example/v1", Guid.NewGuid(), new ModelParameters());
        Plan(State(custom: [custom]), "mine").ShouldBeOfType<TurnRefused>().Reason.ShouldBe(RefusalReason.CustomModelKeyRevoked);
    }

    [Fact]
    public void a_reply_records_its_text_and_usage_against_its_own_message_and_a_cut_one_is_truncated()
    {
        var turn = Plan(State(systemKeys: "openrouter")).ShouldBeOfType<TurnPlanned>().Turn;
        var events = TurnDecider.Replied(turn, new Reply("partial", "length", 3, 4, 50, ReplyEnd.Truncated), Now);
        var received = events[0].ShouldBeOfType<ReplyReceived>();
        received.MessageId.ShouldBe(turn.MessageId);
        received.FinishReason.ShouldBe(ChatTurn.Truncated);
        events[1].ShouldBe(new UsageRecorded("alice", "openrouter", "openrouter/default-model", null, 3, 4, Now));
        TurnDecider.Failed(turn, 502, "broke", Now).ShouldHaveSingleItem()
            .ShouldBe(new ReplyFailed(Conversation, turn.MessageId, "openrouter/default-model", 502, "broke", Now));
    }
}
