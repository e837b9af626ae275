using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Viewer;
using Pantheon.Handlers.Viewer;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.OpenApi;
using Pantheon.Web.Projects;
using Wolverine.Http;
using Wolverine.Persistence;

namespace Pantheon.Web.Viewer;

/// <summary>A ticket and the viewer URL that carries it: open the URL (an iframe, a tab) within <c>expires_at</c>, once.</summary>
public sealed record ViewerTicketResponse(string Ticket, string Url, DateTimeOffset ExpiresAt);

public static class IssueViewerTicketEndpoint
{
    /// <summary>Another user's project is the 404 of one that never existed; a project whose VM is not running a 409.</summary>
    public static ProblemDetails Validate([Entity(Required = false)] ProjectView? project, ClaimsPrincipal principal)
    {
        if (GetProjectEndpoint.Validate(project, principal) is { Status: not null } missing) return missing;
        return ViewerAccess.HasViewer(project!.Status) ? WolverineContinue.NoProblems : new ProblemDetails
        {
            Status = StatusCodes.Status409Conflict, Title = "The project's VM is not running.",
            Detail = ViewerAccess.NotRunning(project.Status),
            Extensions = { ["project_status"] = project.Status.ToString().ToLowerInvariant() },
        };
    }

    /// <summary>
    /// A browser cannot put a bearer token on an iframe or a WebSocket: this single-use ticket, bound to the caller and
    /// the project, opens a viewer session (a cookie scoped to the project's viewer path) instead.
    /// </summary>
    [WolverinePost("/api/projects/{id}/viewer-ticket", OperationId = "IssueViewerTicket")]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static async Task<ViewerTicketResponse> Post([Entity(Required = false)] ProjectView? project, ClaimsPrincipal principal,
        ViewerTickets tickets, ViewerSettings settings, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var expires = now.AddSeconds(settings.TicketSeconds);
        var ticket = await tickets.IssueAsync(principal.UserId(), project!.Id, now, expires, ct);
        return new ViewerTicketResponse(ticket, ViewerPaths.EntryUrl(project.Id, settings.Entry, ticket), expires);
    }
}
