using System.Security.Cryptography;
using System.Text;
using Pantheon.Domain.Users;

namespace Pantheon.Domain.Budgets;

/// <summary>A monthly token budget, a user's own or the default, rebuilt from its stream.</summary>
public sealed partial class Budget
{
    public Guid Id { get; set; }
    /// <summary>The user whose budget this is; null for the default.</summary>
    public string? UserId { get; set; }
    /// <summary>Tokens a month; null: none set here (a user falls back to the default, the default to unlimited).</summary>
    public long? MonthlyTokens { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public int Version { get; set; }

    public static Budget Create(BudgetSet e) => new() { UserId = e.UserId, MonthlyTokens = e.MonthlyTokens, UpdatedAt = e.At };

    public void Apply(BudgetSet e)
    {
        MonthlyTokens = e.MonthlyTokens;
        UpdatedAt = e.At;
    }
}

public static class BudgetStreams
{
    /// <summary>The stream of the default budget, one for the whole deployment.</summary>
    public static readonly Guid Default = new("0193f5a0-0000-8000-8000-0000b0d9e7de");

    /// <summary>The stream of a user's own budget; <paramref name="userId"/> null is the default.</summary>
    public static Guid For(string? userId) => userId is null ? Default : UserId.BudgetStreamFor(userId);
}

public static class BudgetDecider
{
    /// <summary>The largest budget an operator may set: far above any real month, far below overflow.</summary>
    public const long MaxMonthlyTokens = 1_000_000_000_000;

    /// <summary>Records the new budget, or nothing when it is already so (removing a budget never set is a no-op too).</summary>
    public static object[] Set(Budget? current, string? userId, long? monthlyTokens, DateTimeOffset now) =>
        current?.MonthlyTokens == monthlyTokens ? [] : [new BudgetSet(userId, monthlyTokens, now)];
}
