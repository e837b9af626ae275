using System.Security.Claims;
using Marten;
using Pantheon.Projections.Keys;
using Pantheon.Web.Auth;
using Wolverine.Http;

namespace Pantheon.Web.Keys;

public static class ListApiKeysEndpoint
{
    [WolverineGet("/api/user/api-keys", OperationId = "ListApiKeys")]
    public static async Task<IReadOnlyList<ApiKeyResponse>> Get(ClaimsPrincipal principal, IQuerySession session, CancellationToken ct)
    {
        var userId = principal.UserId();
        var keys = await session.Query<ProviderKeyView>().Where(k => k.UserId == userId).OrderBy(k => k.CreatedAt).ToListAsync(ct);
        return keys.Select(ApiKeyResponse.From).ToList();
    }
}
