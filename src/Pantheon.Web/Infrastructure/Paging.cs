using System.Linq.Expressions;
using Marten;
using Marten.Linq.MatchesSql;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Pantheon.Web.Infrastructure;

/// <summary>One page of a list; pass <see cref="NextAfter"/> as <c>after</c> for the next, null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, Guid? NextAfter);

/// <summary>Cursor paging by id, as <c>/api/audit</c> pages by sequence: <c>limit</c> (1 to 500, default 100) and <c>after</c>.</summary>
public static class Paging
{
    public const int DefaultLimit = 100, MaxLimit = 500;

    public static ProblemDetails Validate(int? limit) => limit is null or >= 1 and <= MaxLimit
        ? WolverineContinue.NoProblems
        : new ValidationProblemDetails(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxLimit}."] })
        {
            Status = StatusCodes.Status400BadRequest, Title = "The request is not valid.",
        };

    /// <summary>
    /// The rows after <paramref name="after"/> in id order: ids are time-ordered (version 7), so oldest first, and a row
    /// added or removed between pages neither repeats nor hides another.
    /// </summary>
    public static async Task<Page<TOut>> ByIdAsync<T, TOut>(IQueryable<T> query, Expression<Func<T, Guid>> id, Guid? after, int? limit,
        Func<T, TOut> map, CancellationToken ct) where T : notnull
    {
        var size = limit ?? DefaultLimit;
        if (after is { } cursor) query = query.Where(x => x.MatchesSql("d.id > ?", cursor));
        var rows = await query.OrderBy(id).Take(size + 1).ToListAsync(ct);
        var page = rows.Take(size).ToList();
        return new Page<TOut>(page.Select(map).ToList(), rows.Count > size ? id.Compile()(page[^1]) : null);
    }
}
