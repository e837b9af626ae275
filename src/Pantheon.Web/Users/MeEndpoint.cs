using System.Security.Claims;
using Marten;
using Pantheon.Domain.Users;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Wolverine.Http;

namespace Pantheon.Web.Users;

/// <summary>The caller's profile as the API returns it.</summary>
public sealed record UserProfileResponse(
    string Id, string? Email, string? Name, string? Picture, IReadOnlyList<string> Roles, DateTimeOffset RegisteredAt, DateTimeOffset UpdatedAt);

public static class MeEndpoint
{
    /// <summary>
    /// Registers the caller on the first call and records changed claims on later ones. A user's calls take turns
    /// (a lock on the user, held to the commit), so a burst of first calls registers once and the rest read it.
    /// </summary>
    [WolverineGet("/api/me", OperationId = "GetMe")]
    public static async Task<UserProfileResponse> Get(ClaimsPrincipal principal, IDocumentSession session, TimeProvider time, CancellationToken ct)
    {
        var signIn = principal.ToSignIn();
        await session.LockAsync($"user:{signIn.UserId}", ct);
        var stream = await session.Events.FetchForWriting<User>(UserId.StreamFor(signIn.UserId), ct);
        var now = time.GetUtcNow();
        var events = UserDecider.Decide(signIn, stream.Aggregate, now);
        stream.AppendMany(events);

        var roles = principal.FindAll(AuthenticationSetup.RoleClaim).Select(c => c.Value).Order(StringComparer.Ordinal).ToList();
        var before = stream.Aggregate;
        return events.Length == 0
            ? new UserProfileResponse(before!.UserId, before.Email, before.Name, before.Picture, roles, before.RegisteredAt, before.UpdatedAt)
            : new UserProfileResponse(signIn.UserId, signIn.Email, signIn.Name, signIn.Picture, roles, before?.RegisteredAt ?? now, now);
    }
}
