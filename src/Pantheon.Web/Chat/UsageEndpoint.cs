using Pantheon.Handlers.Infrastructure;
using System.Security.Claims;
using Npgsql;
using Pantheon.Projections.Chat;
using Pantheon.Web.Auth;
using Wolverine.Http;

namespace Pantheon.Web.Chat;

public sealed record UsageLine(string Provider, string Model, long Requests, long InputTokens, long OutputTokens, long TotalTokens);

public sealed record KeyUsageLine(Guid? KeyId, string Provider, long Requests, long InputTokens, long OutputTokens, long TotalTokens);

public sealed record UsageResponse(
    long Requests, long InputTokens, long OutputTokens, long TotalTokens, IReadOnlyList<UsageLine> ByModel,
    IReadOnlyList<KeyUsageLine> ByKey);

public static class UsageEndpoint
{
    /// <summary>
    /// The caller's usage from the <see cref="UsageTotals"/> projection: a few rows per user, however many turns they
    /// add up; <c>key_id</c> null is the system's key (or none).
    /// </summary>
    [WolverineGet("/api/user/usage", OperationId = "GetUsage")]
    public static async Task<UsageResponse> Get(ClaimsPrincipal principal, UsageTotals usage, NpgsqlDataSource db, CancellationToken ct)
    {
        var userId = principal.UserId();
        var (connection, transaction) = await new DatabaseActor.User(userId).BeginAsync(db, ct);
        await using var _ = connection;
        await using var __ = transaction;
        var rows = await usage.For(connection, userId, ct);
        var (requests, tokensIn, tokensOut) = Sum(rows);
        return new UsageResponse(requests, tokensIn, tokensOut, tokensIn + tokensOut,
            rows.GroupBy(r => (r.Provider, r.Model)).OrderBy(g => g.Key.Provider).ThenBy(g => g.Key.Model)
                .Select(g =>
                {
                    var (n, i, o) = Sum(g.ToList());
                    return new UsageLine(g.Key.Provider, g.Key.Model, n, i, o, i + o);
                })
                .ToList(),
            rows.GroupBy(r => (r.KeyId, r.Provider)).OrderBy(g => g.Key.Provider)
                .Select(g =>
                {
                    var (n, i, o) = Sum(g.ToList());
                    return new KeyUsageLine(g.Key.KeyId, g.Key.Provider, n, i, o, i + o);
                })
                .ToList());
    }

    private static (long Requests, long TokensIn, long TokensOut) Sum(IReadOnlyList<UsageTotal> rows) =>
        (rows.Sum(r => r.Requests), rows.Sum(r => r.TokensIn), rows.Sum(r => r.TokensOut));
}
