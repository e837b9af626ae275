namespace Pantheon.Domain.Budgets;

/// <summary>Where a user's budget comes from.</summary>
public enum BudgetSource { None, Default, User }

/// <summary>
/// A user's month: the budget in force (null: unlimited), tokens settled, tokens held by turns in flight, and when
/// the month ends (the first instant of the next UTC month).
/// </summary>
public sealed record BudgetStatus(long? MonthlyTokens, BudgetSource Source, long Spent, long Reserved, DateTimeOffset ResetsAt)
{
    /// <summary>What a new turn may still reserve; null when unlimited.</summary>
    public long? Remaining => MonthlyTokens is { } budget ? Math.Max(0, budget - Spent - Reserved) : null;
}

/// <summary>The worst case of one turn: its prompt as estimated from characters, plus every token it may generate.</summary>
public sealed record BudgetEstimate(long PromptTokens, long MaxOutputTokens)
{
    public long Total => PromptTokens + MaxOutputTokens;
}

/// <summary>The budget's arithmetic: months, the estimate before a call, the actual cost after it.</summary>
public static class BudgetRules
{
    /// <summary>Tokens added per message for its role and framing, as chat formats count them.</summary>
    public const int TokensPerMessage = 4;

    /// <summary>The month a moment belongs to, as its first day (UTC).</summary>
    public static DateOnly MonthOf(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return new DateOnly(utc.Year, utc.Month, 1);
    }

    /// <summary>When the month of <paramref name="now"/> ends and a new budget month begins.</summary>
    public static DateTimeOffset ResetsAt(DateTimeOffset now)
    {
        var month = MonthOf(now).AddMonths(1);
        return new DateTimeOffset(month.Year, month.Month, 1, 0, 0, 0, TimeSpan.Zero);
    }

    /// <summary>
    /// The worst case of a turn: one token per <paramref name="charactersPerToken"/> characters of everything sent
    /// (rounded up), <see cref="TokensPerMessage"/> per message, plus <paramref name="maxTokens"/> (or
    /// <paramref name="assumedMaxTokens"/> when the turn sets none).
    /// </summary>
    public static BudgetEstimate Estimate(IEnumerable<string> messages, int? maxTokens, int assumedMaxTokens, int charactersPerToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(charactersPerToken, 1);
        long characters = 0, count = 0;
        foreach (var message in messages)
        {
            characters += message.Length;
            count++;
        }
        return new BudgetEstimate(Ceiling(characters, charactersPerToken) + count * TokensPerMessage, maxTokens ?? assumedMaxTokens);
    }

    /// <summary>
    /// What a turn cost: the provider's count when it reported one; otherwise (a client that left mid-stream, a
    /// provider without usage) the prompt estimate plus the reply's characters as tokens.
    /// </summary>
    public static long Actual(long? reportedTokens, BudgetEstimate estimate, int replyCharacters, int charactersPerToken) =>
        reportedTokens ?? estimate.PromptTokens + Ceiling(replyCharacters, charactersPerToken);

    private static long Ceiling(long characters, int perToken) => (characters + perToken - 1) / perToken;
}
