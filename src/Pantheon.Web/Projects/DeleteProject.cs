using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Projects;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Wolverine;
using Wolverine.Http;
using Wolverine.Persistence;

namespace Pantheon.Web.Projects;

public static class DeleteProjectEndpoint
{
    public static ProblemDetails Validate([Entity(Required = false)] ProjectView? project, ClaimsPrincipal principal) =>
        GetProjectEndpoint.Validate(project, principal);

    /// <summary>Records the request and hands teardown to the saga; asking again while it runs changes nothing.</summary>
    [WolverineDelete("/api/projects/{id}", OperationId = "DeleteProject")]
    public static (ProjectAccepted, OutgoingMessages) Delete([Entity(Required = false)] ProjectView? project, IDocumentSession session, TimeProvider time)
    {
        if (project!.Status == ProjectStatus.Deleting) return (new ProjectAccepted(project.Id, ProjectStatus.Deleting), []);
        session.Events.Append(project.Id, new ProjectDeletionRequested(project.Id, time.GetUtcNow()));
        return (new ProjectAccepted(project.Id, ProjectStatus.Deleting), [new Handlers.Projects.DeleteProject(project.Id)]);
    }
}
