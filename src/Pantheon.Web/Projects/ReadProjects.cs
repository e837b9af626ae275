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
    [WolverineGet("/api/projects", OperationId = "ListProjects")]
    public static async Task<IReadOnlyList<ProjectResponse>> Get(ClaimsPrincipal principal, IQuerySession session, CancellationToken ct)
    {
        var owner = principal.UserId();
        var projects = await session.Query<ProjectView>().Where(p => p.OwnerId == owner).OrderBy(p => p.CreatedAt).ToListAsync(ct);
        return projects.Select(ProjectResponse.From).ToList();
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
