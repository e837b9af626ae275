using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Projections.Keys;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Wolverine.Http;

namespace Pantheon.Web.Keys;

public static class ListApiKeysEndpoint
{
    public static ProblemDetails Validate(int? limit) => Paging.Validate(limit);

    /// <summary>The caller's unrevoked keys, oldest first, a page at a time (<c>limit</c>, <c>after</c>).</summary>
    [WolverineGet("/api/user/api-keys", OperationId = "ListApiKeys")]
    public static Task<Page<ApiKeyResponse>> Get(Guid? after, int? limit, ClaimsPrincipal principal, IQuerySession session,
        CancellationToken ct)
    {
        var userId = principal.UserId();
        var keys = session.Query<ProviderKeyView>().Where(k => k.UserId == userId);
        return Paging.ByIdAsync(keys, k => k.Id, after, limit, ApiKeyResponse.From, ct);
    }
}
