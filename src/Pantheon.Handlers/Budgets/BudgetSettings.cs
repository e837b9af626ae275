namespace Pantheon.Handlers.Budgets;

/// <summary>The <c>Budgets</c> section: how a turn's worst case is estimated and how long a reservation may live.</summary>
public sealed class BudgetSettings
{
    public const string Section = "Budgets";

    /// <summary>The output a turn may generate when neither the request nor the user's settings set <c>max_tokens</c>.</summary>
    public int AssumedMaxTokens { get; set; } = 4096;

    /// <summary>Characters counted as one prompt token when estimating a turn before the call.</summary>
    public int CharactersPerToken { get; set; } = 4;

    /// <summary>
    /// How long a reservation holds its tokens when nobody settles it (the process died mid-turn). Longer than any turn
    /// may take, so a slow reply is never double-booked.
    /// </summary>
    public int ReservationTimeoutSeconds { get; set; } = 900;
}
