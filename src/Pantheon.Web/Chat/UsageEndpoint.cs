using System.Security.Claims;
using Npgsql;
using Pantheon.Projections.Chat;
using Pantheon.Web.Auth;
using Wolverine.Http;

namespace Pantheon.Web.Chat;

public sealed record UsageLine(string Provider, string Model, long Requests, long InputTokens, long OutputTokens, long TotalTokens);

public sealed record KeyUsageLine(Guid? KeyId, string Provider, long Requests, long InputTokens, long OutputTokens, long TotalTokens);

public sealed record UsageResponse(
    long Requests, long InputTokens, long OutputTokens, long TotalTokens, IReadOnlyList<UsageLine> ByModel, IReadOnlyList<KeyUsageLine> ByKey);

public static class UsageEndpoint
{
    /// <summary>The caller's usage from the <see cref="UsageTotals"/> projection; <c>key_id</c> null is the system's key (or none).</summary>
    [WolverineGet("/api/user/usage", OperationId = "GetUsage")]
    public static async Task<UsageResponse> Get(ClaimsPrincipal principal, UsageTotals usage, NpgsqlDataSource db, CancellationToken ct)
    {
        var rows = await usage.For(db, principal.UserId(), ct);
        return new UsageResponse(rows.Sum(r => r.Requests), rows.Sum(r => r.TokensIn), rows.Sum(r => r.TokensOut), rows.Sum(r => r.TokensIn + r.TokensOut),
            rows.GroupBy(r => (r.Provider, r.Model)).OrderBy(g => g.Key.Provider).ThenBy(g => g.Key.Model)
                .Select(g => new UsageLine(g.Key.Provider, g.Key.Model, g.Sum(r => r.Requests), g.Sum(r => r.TokensIn), g.Sum(r => r.TokensOut),
                    g.Sum(r => r.TokensIn + r.TokensOut)))
                .ToList(),
            rows.GroupBy(r => (r.KeyId, r.Provider)).OrderBy(g => g.Key.Provider)
                .Select(g => new KeyUsageLine(g.Key.KeyId, g.Key.Provider, g.Sum(r => r.Requests), g.Sum(r => r.TokensIn), g.Sum(r => r.TokensOut),
                    g.Sum(r => r.TokensIn + r.TokensOut)))
                .ToList());
    }
}
