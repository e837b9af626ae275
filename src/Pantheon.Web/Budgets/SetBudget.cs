using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Pantheon.Domain.Budgets;
using Pantheon.Web.Auth;
using Wolverine.Http;

namespace Pantheon.Web.Budgets;

/// <summary>
/// <c>PUT /api/admin/budgets/{user}</c> and <c>PUT /api/admin/budgets/default</c>: a monthly token budget; null removes
/// it (a user then falls back to the default, the default to unlimited).
/// </summary>
public sealed record SetBudget(long? MonthlyTokens)
{
    public sealed class Validator : AbstractValidator<SetBudget>
    {
        public Validator()
        {
            RuleFor(x => x.MonthlyTokens).InclusiveBetween(0, BudgetDecider.MaxMonthlyTokens).When(x => x.MonthlyTokens is not null);
        }
    }
}

/// <summary>A budget as an operator set it; <c>user_id</c> null is the default.</summary>
public sealed record BudgetLimitResponse(string? UserId, long? MonthlyTokens, DateTimeOffset? UpdatedAt);

public static class SetBudgetEndpoint
{
    /// <summary>The default budget of every user without one of their own; <c>pantheon-admin</c> only.</summary>
    [WolverinePut("/api/admin/budgets/default", OperationId = "SetDefaultBudget")]
    [Authorize(Roles = AuthSettings.AdminRole)]
    public static Task<BudgetLimitResponse> PutDefault(
        SetBudget command, IDocumentSession session, TimeProvider time, CancellationToken ct) =>
        Set(null, command, session, time, ct);

    /// <summary>
    /// One user's budget (the token's <c>sub</c>; the literal <c>default</c> is the default's route); <c>pantheon-admin</c> only.
    /// </summary>
    [WolverinePut("/api/admin/budgets/{user}", OperationId = "SetUserBudget")]
    [Authorize(Roles = AuthSettings.AdminRole)]
    public static Task<BudgetLimitResponse> Put(
        string user, SetBudget command, IDocumentSession session, TimeProvider time, CancellationToken ct) =>
        Set(user, command, session, time, ct);

    private static async Task<BudgetLimitResponse> Set(
        string? user, SetBudget command, IDocumentSession session, TimeProvider time, CancellationToken ct)
    {
        var stream = await session.Events.FetchForWriting<Budget>(BudgetStreams.For(user), ct);
        var events = BudgetDecider.Set(stream.Aggregate, user, command.MonthlyTokens, time.GetUtcNow());
        stream.AppendMany(events);
        return events is [BudgetSet set]
            ? new BudgetLimitResponse(user, set.MonthlyTokens, set.At)
            : new BudgetLimitResponse(user, stream.Aggregate?.MonthlyTokens, stream.Aggregate?.UpdatedAt);
    }
}
