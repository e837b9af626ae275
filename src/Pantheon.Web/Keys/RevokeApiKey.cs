using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Keys;
using Pantheon.Handlers.Keys;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Wolverine.Http;
using Wolverine.Marten;

namespace Pantheon.Web.Keys;

public static class RevokeApiKeyEndpoint
{
    /// <summary>Another user's key, or a revoked one, answers exactly like a key that never existed.</summary>
    public static ProblemDetails Validate(ProviderKey? key, ClaimsPrincipal principal) =>
        key is not null && key.IsActiveFor(principal.UserId()) ? WolverineContinue.NoProblems : Problems.NotFound("The API key");

    /// <summary>Revokes the key and destroys its data key in the same transaction.</summary>
    [WolverineDelete("/api/user/api-keys/{id}", OperationId = "RevokeApiKey")]
    [EmptyResponse]
    public static (Events, IMartenOp) Delete([WriteAggregate(Required = false)] ProviderKey? key, ClaimsPrincipal principal,
        TimeProvider time) =>
        (new Events(KeyDecider.Revoke(key, principal.UserId(), time.GetUtcNow())), MartenOps.Delete<ProviderKeySecret>(key!.Id));
}
