using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Pantheon.Domain.Budgets;
using Pantheon.Handlers.Budgets;
using Pantheon.Web.Auth;
using Wolverine.Http;

namespace Pantheon.Web.Budgets;

/// <summary>
/// A user's month: <c>budget</c> (tokens; null when unlimited) and where it comes from (<c>user</c>, <c>default</c>,
/// <c>none</c>), tokens <c>spent</c>, tokens <c>reserved</c> by turns in flight, what is <c>remaining</c>, and when the
/// month resets (the first instant of the next UTC month).
/// </summary>
public sealed record BudgetResponse(long? Budget, BudgetSource Source, long Spent, long Reserved, long? Remaining, DateTimeOffset ResetsAt)
{
    public static BudgetResponse From(BudgetStatus s) => new(s.MonthlyTokens, s.Source, s.Spent, s.Reserved, s.Remaining, s.ResetsAt);
}

public static class BudgetEndpoints
{
    /// <summary>The name of the limit in a 402 problem.</summary>
    public const string LimitName = "monthly_token_budget";

    [WolverineGet("/api/user/budget", OperationId = "GetBudget")]
    public static async Task<BudgetResponse> Get(ClaimsPrincipal principal, BudgetLedger ledger, CancellationToken ct) =>
        BudgetResponse.From(await ledger.Read(principal.UserId(), ct));

    /// <summary>Any user's month, for operators.</summary>
    [WolverineGet("/api/admin/budgets/{user}", OperationId = "GetUserBudget")]
    [Authorize(Roles = AuthSettings.AdminRole)]
    public static async Task<BudgetResponse> GetForUser(string user, BudgetLedger ledger, CancellationToken ct) =>
        BudgetResponse.From(await ledger.Read(user, ct));

    /// <summary>402: the turn's worst case does not fit in what is left of the month.</summary>
    public static IResult OverBudget(BudgetStatus status, BudgetEstimate estimate) => Results.Problem(
        statusCode: StatusCodes.Status402PaymentRequired,
        title: "Monthly token budget exhausted",
        detail: $"This message may use up to {estimate.Total} tokens, and {status.Remaining} of the monthly budget of "
            + $"{status.MonthlyTokens} tokens are left ({status.Spent} spent, {status.Reserved} reserved). "
            + $"The budget resets at {status.ResetsAt:yyyy-MM-dd'T'HH:mm:ss'Z'}.",
        extensions: new Dictionary<string, object?>
        {
            ["limit"] = LimitName, ["budget"] = status.MonthlyTokens, ["spent"] = status.Spent, ["reserved"] = status.Reserved,
            ["requested"] = estimate.Total, ["resets_at"] = status.ResetsAt,
        });
}
