using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Viewer;
using Pantheon.Handlers.Projects;
using Pantheon.Handlers.Viewer;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.OpenApi;
using Pantheon.Web.Projects;
using Wolverine;
using Wolverine.Http;
using Wolverine.Persistence;

namespace Pantheon.Web.Viewer;

/// <summary>A ticket and the viewer URL that carries it: open the URL (an iframe, a tab) within <c>expires_at</c>, once.</summary>
public sealed record ViewerTicketResponse(string Ticket, string Url, DateTimeOffset ExpiresAt);

public static class IssueViewerTicketEndpoint
{
    /// <summary>
    /// Another user's project is the 404 of one that never existed; a project without a VM to run (still provisioning,
    /// failed, being deleted) a 409. A stopped one is started on demand (see <see cref="Post"/>).
    /// </summary>
    public static ProblemDetails Validate([Entity(Required = false)] ProjectView? project, ClaimsPrincipal principal)
    {
        if (GetProjectEndpoint.Validate(project, principal) is { Status: not null } missing) return missing;
        return ViewerAccess.HasViewer(project!.Status) || WakesOnDemand(project.Status) ? WolverineContinue.NoProblems : new ProblemDetails
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
    [ProducesResponseType<ViewerTicketResponse>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProjectAccepted>(StatusCodes.Status202Accepted)]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static async Task<IResult> Post([Entity(Required = false)] ProjectView? project, ClaimsPrincipal principal,
        ViewerTickets tickets, ViewerSettings settings, TimeProvider time, IMessageBus bus, ProjectActivity activity, CancellationToken ct)
    {
        // Opening the viewer is activity (idle stop); a stopped VM is started and the client told to come back once it is
        // ready (202 with the project's status), as a chat about the project is.
        await activity.TouchAsync(project!.Id, ct);
        if (!ViewerAccess.HasViewer(project.Status))
        {
            var wake = await bus.InvokeAsync<WakeAnswer>(new WakeProject(project.Id, principal.UserId()), ct);
            if (!wake.Found) return Results.Problem(Problems.NotFound("The project"));
            if (wake.Status != ProjectStatus.Ready)
                return Results.Json(new ProjectAccepted(project.Id, wake.Status), statusCode: StatusCodes.Status202Accepted);
        }
        var now = time.GetUtcNow();
        var expires = now.AddSeconds(settings.TicketSeconds);
        var ticket = await tickets.IssueAsync(principal.UserId(), project.Id, now, expires, ct);
        return Results.Json(new ViewerTicketResponse(ticket, ViewerPaths.EntryUrl(project.Id, settings.Entry, ticket), expires));
    }

    private static bool WakesOnDemand(ProjectStatus status) =>
        status is ProjectStatus.Stopped or ProjectStatus.Stopping or ProjectStatus.Starting;
}
