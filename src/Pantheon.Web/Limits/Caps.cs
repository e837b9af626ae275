using System.Linq.Expressions;
using Marten;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Web.Infrastructure;
using Wolverine.Http;

namespace Pantheon.Web.Limits;

/// <summary>
/// A per-user cap on what a user holds. Counting and then inserting is a race (ten creates at once all count four),
/// so the count runs under the user's lock for this kind of resource, in the transaction that inserts: the next
/// create of the same user waits for this one to commit and counts it.
/// </summary>
public static class Caps
{
    public static async Task<ProblemDetails> CheckAsync<T>(IDocumentSession session, string userId, Expression<Func<T, bool>> held,
        int max, string setting, string what, CancellationToken ct) where T : notnull
    {
        await session.LockAsync($"cap:{typeof(T).Name}:{userId}", ct);
        var count = await session.Query<T>().Where(held).CountAsync(ct);
        return count < max ? WolverineContinue.NoProblems : LimitProblems.CapReached(setting, max, what);
    }
}
