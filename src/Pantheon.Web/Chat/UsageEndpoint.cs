using System.Security.Claims;
using Marten;
using Pantheon.Domain.Chat;
using Pantheon.Web.Auth;
using Wolverine.Http;

namespace Pantheon.Web.Chat;

public sealed record UsageLine(string Provider, string Model, long Requests, long InputTokens, long OutputTokens, long TotalTokens);

public sealed record KeyUsageLine(Guid? KeyId, string Provider, long Requests, long InputTokens, long OutputTokens, long TotalTokens);

public sealed record UsageResponse(long Requests, long InputTokens, long OutputTokens, long TotalTokens, IReadOnlyList<UsageLine> ByModel, IReadOnlyList<KeyUsageLine> ByKey);

public static class UsageEndpoint
{
    /// <summary>Sums the caller's <see cref="UsageRecorded"/> events; <c>key_id</c> null is the system's key (or none).</summary>
    [WolverineGet("/api/user/usage", OperationId = "GetUsage")]
    public static async Task<UsageResponse> Get(ClaimsPrincipal principal, IQuerySession session, CancellationToken ct)
    {
        var userId = principal.UserId();
        var records = await session.Events.QueryRawEventDataOnly<UsageRecorded>().Where(u => u.UserId == userId).ToListAsync(ct);
        return new UsageResponse(records.Count, records.Sum(r => r.TokensIn), records.Sum(r => r.TokensOut), records.Sum(r => r.TokensIn + r.TokensOut),
            records.GroupBy(r => (r.Provider, r.Model)).OrderBy(g => g.Key.Provider).ThenBy(g => g.Key.Model)
                .Select(g => new UsageLine(g.Key.Provider, g.Key.Model, g.Count(), g.Sum(r => r.TokensIn), g.Sum(r => r.TokensOut), g.Sum(r => r.TokensIn + r.TokensOut)))
                .ToList(),
            records.GroupBy(r => (r.KeyId, r.Provider)).OrderBy(g => g.Key.Provider)
                .Select(g => new KeyUsageLine(g.Key.KeyId, g.Key.Provider, g.Count(), g.Sum(r => r.TokensIn), g.Sum(r => r.TokensOut), g.Sum(r => r.TokensIn + r.TokensOut)))
                .ToList());
    }
}
