namespace Pantheon.Domain.Budgets;

/// <summary>
/// An operator set (or, with <see cref="MonthlyTokens"/> null, removed) a monthly token budget: a user's own when
/// <see cref="UserId"/> is set, else the default for every user without one of their own.
/// </summary>
public sealed record BudgetSet(string? UserId, long? MonthlyTokens, DateTimeOffset At);
