using System.Collections.Concurrent;
using System.Text.Json;
using Alba;
using Marten;
using Marten.Events;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.Domain.Budgets;
using Pantheon.Handlers.Budgets;
using Pantheon.IntegrationTests.Chat;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;
using Pantheon.Web.Auth;

namespace Pantheon.IntegrationTests.Budgets;

[Collection(AppCollection.Name)]
public class BudgetTests(AppFixture app)
{
    private static readonly string Admin = TestSettings.TokenFor(TestSettings.NewUser("operator"), roles: AuthSettings.AdminRole);

    // "hi" with no earlier turns: 1 token for its 2 characters + 4 for the message, plus max_tokens.
    private const int MaxTokens = 100;
    private const long TurnEstimate = 1 + BudgetRules.TokensPerMessage + MaxTokens;

    [Fact]
    public async Task twenty_chats_at_once_against_a_budget_for_five_let_at_most_five_reach_the_provider()
    {
        // Each turn really costs its whole reservation, so turns that finish never free room for another.
        app.Fake.Behavior = new FakeBehavior
        {
            InputTokens = 5, OutputTokens = (int)TurnEstimate - 5, Delay = TimeSpan.FromMilliseconds(300),
        };
        var (user, token, key) = await NewUserWithKey();
        await SetBudget(user, 5 * TurnEstimate);
        var conversations = await UsageTests.Conversations(app, user, 20);

        var statuses = await Task.WhenAll(
            conversations.Select(project => UsageTests.ChatStatus(app, token, project, "openai/gpt-4o", MaxTokens)));
        app.Fake.Behavior = new FakeBehavior();

        var ran = statuses.Count(s => s == 200);
        statuses.ShouldAllBe(s => s == 200 || s == 402);
        ran.ShouldBeInRange(1, 5);
        app.Fake.Requests.Count(r => r.Headers["authorization"] == $"Bearer {key}").ShouldBe(ran);

        var usage = await app.Host.GetJson<JsonElement>("/api/user/usage", token);
        usage.GetProperty("requests").GetInt64().ShouldBe(ran);
        var budget = await app.Host.GetJson<JsonElement>("/api/user/budget", token);
        budget.GetProperty("budget").GetInt64().ShouldBe(5 * TurnEstimate);
        budget.GetProperty("spent").GetInt64().ShouldBe(usage.GetProperty("total_tokens").GetInt64());
        budget.GetProperty("reserved").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task a_chat_over_budget_is_a_402_naming_the_budget_the_spend_and_the_reset_and_records_nothing()
    {
        app.Fake.Behavior = new FakeBehavior { InputTokens = 30, OutputTokens = 20 };
        var (user, token, key) = await NewUserWithKey();
        await SetBudget(user, TurnEstimate + 10);
        await Chat(token, 200);

        var problem = await (await Chat(token, 402)).ReadAsJsonAsync<JsonElement>();
        app.Fake.Behavior = new FakeBehavior();
        problem.GetProperty("limit").GetString().ShouldBe("monthly_token_budget");
        problem.GetProperty("budget").GetInt64().ShouldBe(TurnEstimate + 10);
        problem.GetProperty("spent").GetInt64().ShouldBe(50);
        var now = DateTimeOffset.UtcNow;
        var next = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
        problem.GetProperty("resets_at").GetDateTimeOffset().ShouldBe(next);
        app.Fake.Requests.Count(r => r.Headers["authorization"] == $"Bearer {key}").ShouldBe(1);
        var turns = (await app.Host.GetJson<JsonElement>("/api/chat/history", token)).GetProperty("turns").GetArrayLength();
        turns.ShouldBe(2); // the first turn's message and reply; the refused one left nothing
    }

    [Fact]
    public async Task no_budget_is_unlimited_a_default_applies_to_everyone_and_a_users_own_budget_wins()
    {
        app.Fake.Behavior = new FakeBehavior();
        var (user, token, _) = await NewUserWithKey();
        try
        {
            var before = await app.Host.GetJson<JsonElement>("/api/user/budget", token);
            before.GetProperty("budget").ValueKind.ShouldBe(JsonValueKind.Null);
            before.GetProperty("source").GetString().ShouldBe("none");
            await Chat(token, 200);
            (await app.Host.GetJson<JsonElement>("/api/user/budget", token)).GetProperty("spent").GetInt64().ShouldBe(18);

            await app.Host.Send(HttpMethod.Put, "/api/admin/budgets/default", Admin, new { monthly_tokens = 10 });
            var limited = await app.Host.GetJson<JsonElement>("/api/user/budget", token);
            (limited.GetProperty("budget").GetInt64(), limited.GetProperty("source").GetString()).ShouldBe((10L, "default"));
            limited.GetProperty("remaining").GetInt64().ShouldBe(0);
            await Chat(token, 402);

            await SetBudget(user, 1_000);
            var own = await app.Host.GetJson<JsonElement>("/api/user/budget", token);
            (own.GetProperty("budget").GetInt64(), own.GetProperty("source").GetString()).ShouldBe((1_000L, "user"));
            await Chat(token, 200);
            (await app.Host.GetJson<JsonElement>($"/api/admin/budgets/{user}", Admin)).GetProperty("spent").GetInt64().ShouldBe(36);

            await app.Host.Send(HttpMethod.Put, $"/api/admin/budgets/{user}", Admin, new { monthly_tokens = (long?)null });
            (await app.Host.GetJson<JsonElement>("/api/user/budget", token)).GetProperty("source").GetString().ShouldBe("default");
        }
        finally
        {
            await app.Host.Send(HttpMethod.Put, "/api/admin/budgets/default", Admin, new { monthly_tokens = (long?)null });
        }
        (await app.Host.GetJson<JsonElement>("/api/user/budget", token)).GetProperty("source").GetString().ShouldBe("none");
    }

    [Fact]
    public async Task only_operators_set_budgets_within_bounds_and_every_change_is_in_the_audit_log()
    {
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        await app.Host.Send(HttpMethod.Put, $"/api/admin/budgets/{user}", token, new { monthly_tokens = 1_000_000 }, status: 403);
        await app.Host.Send(HttpMethod.Put, "/api/admin/budgets/default", token, new { monthly_tokens = 1_000_000 }, status: 403);
        await app.Host.Send(HttpMethod.Get, $"/api/admin/budgets/{user}", token, status: 403);
        await app.Host.ShouldRejectField(
            HttpMethod.Put, $"/api/admin/budgets/{user}", Admin, """{"monthly_tokens":-1}""", "monthly_tokens");

        await SetBudget(user, 500);
        await SetBudget(user, 500); // unchanged: no event
        await SetBudget(user, 700);
        (await app.Host.ForceAllMartenDaemonActivityToCatchUpAsync(CancellationToken.None)).ShouldBeEmpty();
        var entries = (await app.Host.GetJson<JsonElement>("/api/audit?type=budget_set&limit=500", Admin))
            .GetProperty("entries").EnumerateArray().Where(e => e.GetProperty("summary").GetString()!.Contains(user)).ToList();
        entries.Select(e => e.GetProperty("summary").GetString()).ShouldBe(
            [$"monthly budget of {user} set to 500 tokens", $"monthly budget of {user} set to 700 tokens"]);
        // Recorded as the operator's doing, with their id.
        entries.Select(e => e.GetProperty("user_id").GetString()).ShouldAllBe(id => !string.IsNullOrEmpty(id) && id != user);
    }

    [Fact]
    public async Task a_failed_provider_call_gives_its_reservation_back()
    {
        var (user, token, key) = await NewUserWithKey();
        // Room for one turn at a time: the second fits only if the failed one gave its hold back.
        await SetBudget(user, TurnEstimate + 15);
        app.Fake.Behavior = new FakeBehavior { Status = 500 };
        await Chat(token, 502);
        app.Fake.Behavior = new FakeBehavior();
        var budget = await app.Host.GetJson<JsonElement>("/api/user/budget", token);
        (budget.GetProperty("spent").GetInt64(), budget.GetProperty("reserved").GetInt64()).ShouldBe((0L, 0L));
        await Chat(token, 200);
    }

    [Fact]
    public async Task concurrent_reservations_from_two_processes_never_overspend()
    {
        // Two ledgers on two connection pools stand for two backend processes: only PostgreSQL sees both.
        var user = TestSettings.NewUser();
        await SetBudget(user, 7 * 100);
        var (one, two) = (Ledger(), Ledger());
        var estimate = new BudgetEstimate(10, 90);
        var held = new ConcurrentBag<BudgetReservation>();
        await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            var decision = await (i % 2 == 0 ? one : two).Reserve(user, estimate, default);
            if (decision.Reservation is { } r) held.Add(r);
            else decision.Refused.ShouldNotBeNull().Remaining.ShouldBe(0);
        }));
        held.Count.ShouldBe(7);
        var resetsAt = BudgetRules.ResetsAt(DateTimeOffset.UtcNow);
        (await one.Read(user, default)).ShouldBe(new BudgetStatus(700, BudgetSource.User, 0, 700, resetsAt));

        await Task.WhenAll(held.Select((r, i) => i == 0 ? r.Settle(null, 40) : r.Settle(60, 0)));
        (await two.Read(user, default)).ShouldBe(new BudgetStatus(700, BudgetSource.User, 10 + 10 + 6 * 60, 0, resetsAt));
        await held.First().DisposeAsync(); // settled already: releasing is a no-op
        (await one.Read(user, default)).Spent.ShouldBe(380);
    }

    [Fact]
    public async Task a_reservation_left_by_a_crash_expires_and_gives_its_tokens_back()
    {
        var user = TestSettings.NewUser();
        await SetBudget(user, 1_000);
        var clock = new Clock(DateTimeOffset.UtcNow);
        var ledger = Ledger(clock, new BudgetSettings { ReservationTimeoutSeconds = 60 });
        // Never settled: the process "died".
        (await ledger.Reserve(user, new BudgetEstimate(100, 800), default)).Reservation.ShouldNotBeNull();
        (await ledger.Reserve(user, new BudgetEstimate(100, 800), default)).Refused.ShouldNotBeNull().Reserved.ShouldBe(900);

        clock.Now += TimeSpan.FromSeconds(61);
        (await ledger.Read(user, default)).Reserved.ShouldBe(0);
        (await ledger.Reserve(user, new BudgetEstimate(100, 900), default)).Reservation.ShouldNotBeNull();
    }

    private BudgetLedger Ledger(TimeProvider? time = null, BudgetSettings? settings = null) => new(
        NpgsqlDataSource.Create(TestDatabase.Application), app.Host.Services.GetRequiredService<IDocumentStore>(),
        settings ?? new BudgetSettings(), time ?? TimeProvider.System);

    private sealed class Clock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private async Task<(string User, string Token, string Key)> NewUserWithKey()
    {
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        var key = $"sk-budget-{Guid.NewGuid():N}";
        await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token, new { name = "k", provider = "openai", key }, status: 201);
        return (user, token, key);
    }

    private Task SetBudget(string user, long tokens) =>
        app.Host.Send(HttpMethod.Put, $"/api/admin/budgets/{user}", Admin, new { monthly_tokens = tokens });

    private Task<IScenarioResult> Chat(string token, int status) =>
        app.Host.Send(HttpMethod.Post, "/api/chat", token,
            new { message = "hi", model = "openai/gpt-4o", model_parameters = new { max_tokens = MaxTokens } }, status: status);
}
