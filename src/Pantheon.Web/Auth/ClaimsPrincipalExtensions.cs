using System.Security.Claims;
using Pantheon.Domain.Users;

namespace Pantheon.Web.Auth;

public static class ClaimsPrincipalExtensions
{
    /// <summary>The caller's user id: the token's <c>sub</c>. Every /api route runs authenticated, so it is there.</summary>
    public static string UserId(this ClaimsPrincipal principal) =>
        principal.FindFirstValue("sub") ?? throw new InvalidOperationException("An authenticated principal without 'sub' reached an endpoint.");

    public static bool IsAdmin(this ClaimsPrincipal principal) => principal.IsInRole(AuthSettings.AdminRole);

    public static SignIn ToSignIn(this ClaimsPrincipal principal) => new(
        principal.UserId(),
        principal.FindFirstValue("email"),
        principal.FindFirstValue("name"),
        principal.FindFirstValue("picture"));
}
