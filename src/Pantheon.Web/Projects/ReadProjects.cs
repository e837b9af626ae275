using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Wolverine.Http;
using Wolverine.Persistence;

namespace Pantheon.Web.Projects;

public static class ListProjectsEndpoint
{
    public static ProblemDetails Validate(int? limit) => Paging.Validate(limit);

    /// <summary>The caller's projects, oldest first, a page at a time (<c>limit</c>, <c>after</c>: the last <c>next_after</c>).</summary>
    [WolverineGet("/api/projects", OperationId = "ListProjects")]
    public static Task<Page<ProjectResponse>> Get(Guid? after, int? limit, ClaimsPrincipal principal, IQuerySession session,
        CancellationToken ct)
    {
        var owner = principal.UserId();
        var projects = session.Query<ProjectView>().Where(p => p.OwnerId == owner);
        return Paging.ByIdAsync(projects, p => p.Id, after, limit, ProjectResponse.From, ct);
    }
}

public static class GetProjectEndpoint
{
    /// <summary>Another user's project answers exactly like one that never existed.</summary>
    public static ProblemDetails Validate([Entity(Required = false)] ProjectView? project, ClaimsPrincipal principal) =>
        project is not null && project.OwnerId == principal.UserId() ? WolverineContinue.NoProblems : Problems.NotFound("The project");

    [WolverineGet("/api/projects/{id}", OperationId = "GetProject")]
    public static ProjectResponse Get([Entity(Required = false)] ProjectView? project) => ProjectResponse.From(project!);
}
