using Pantheon.Domain.Budgets;

namespace Pantheon.Domain.Tests.Budgets;

public class BudgetRulesTests
{
    [Theory]
    [InlineData("2026-11-27T07:00:00Z", "2026-12-01T00:00:00Z")]
    [InlineData("2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z")]
    [InlineData("2026-12-01T00:30:00+02:00", "2026-12-01T00:00:00Z")] // still 30 November in UTC
    public void a_month_resets_at_the_first_instant_of_the_next_utc_month(string now, string resetsAt) =>
        BudgetRules.ResetsAt(DateTimeOffset.Parse(now)).ShouldBe(DateTimeOffset.Parse(resetsAt));

    [Fact]
    public void the_estimate_is_characters_over_four_rounded_up_plus_four_per_message_plus_max_tokens()
    {
        var estimate = BudgetRules.Estimate(["hello", "a reply of 17 ch.", "x"], maxTokens: 50, assumedMaxTokens: 4096,
            charactersPerToken: 4);
        estimate.ShouldBe(new BudgetEstimate(6 + 3 * 4, 50)); // 23 characters -> 6 tokens
        estimate.Total.ShouldBe(68);
    }

    [Fact]
    public void without_max_tokens_the_estimate_assumes_the_configured_output()
    {
        BudgetRules.Estimate(["hi"], maxTokens: null, assumedMaxTokens: 4096, charactersPerToken: 4).MaxOutputTokens.ShouldBe(4096);
    }

    [Fact]
    public void a_turn_costs_the_reported_tokens_else_the_prompt_estimate_and_the_reply_length()
    {
        var estimate = new BudgetEstimate(20, 500);
        BudgetRules.Actual(33, estimate, replyCharacters: 4000, charactersPerToken: 4).ShouldBe(33);
        BudgetRules.Actual(null, estimate, replyCharacters: 41, charactersPerToken: 4).ShouldBe(20 + 11);
    }

    [Fact]
    public void remaining_is_never_negative_and_unlimited_has_none()
    {
        new BudgetStatus(100, BudgetSource.User, 80, 40, default).Remaining.ShouldBe(0);
        new BudgetStatus(100, BudgetSource.Default, 10, 40, default).Remaining.ShouldBe(50);
        new BudgetStatus(null, BudgetSource.None, 10, 40, default).Remaining.ShouldBeNull();
    }

    [Fact]
    public void setting_a_budget_records_a_change_and_nothing_when_it_is_already_so()
    {
        var now = DateTimeOffset.UtcNow;
        BudgetDecider.Set(null, "alice", 1000, now).ShouldBe([new BudgetSet("alice", 1000, now)]);
        BudgetDecider.Set(null, "alice", null, now).ShouldBeEmpty();
        var current = Budget.Create(new BudgetSet("alice", 1000, now));
        BudgetDecider.Set(current, "alice", 1000, now).ShouldBeEmpty();
        BudgetDecider.Set(current, "alice", null, now).ShouldBe([new BudgetSet("alice", null, now)]);
        BudgetDecider.Set(null, null, 5, now).ShouldBe([new BudgetSet(null, 5, now)]);
    }

    [Fact]
    public void a_users_budget_stream_is_their_own_and_apart_from_the_default()
    {
        BudgetStreams.For("alice").ShouldNotBe(BudgetStreams.For("bob"));
        BudgetStreams.For("alice").ShouldNotBe(BudgetStreams.Default);
        BudgetStreams.For(null).ShouldBe(BudgetStreams.Default);
    }
}
