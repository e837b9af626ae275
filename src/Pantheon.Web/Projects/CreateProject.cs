using System.Security.Claims;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.OpenApi;
using Pantheon.Web.Limits;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace Pantheon.Web.Projects;

/// <summary><c>POST /api/projects</c>.</summary>
public sealed record CreateProject(string? Name, string? Os)
{
    public sealed class Validator : AbstractValidator<CreateProject>
    {
        public Validator()
        {
            RuleFor(x => x.Name).Cascade(CascadeMode.Stop).NotEmpty().MaximumLength(64)
                .Matches(@"^[A-Za-z0-9 ._\-]+$").WithMessage("name may hold letters, digits, space, '-', '_' and '.' only.");
            RuleFor(x => x.Os).Must(os => os is null || ProjectOs.All.Contains(os))
                .WithMessage($"os must be one of: {string.Join(", ", ProjectOs.All)}.");
        }
    }
}

public static class CreateProjectEndpoint
{
    /// <summary>At most <see cref="UserLimits.ProjectsPerUser"/> projects not being deleted, however many creates run at once.</summary>
    public static Task<ProblemDetails> ValidateAsync(ClaimsPrincipal principal, IDocumentSession session, UserLimits limits,
        CancellationToken ct)
    {
        var owner = principal.UserId();
        return Caps.CheckAsync<ProjectView>(session, owner, p => p.OwnerId == owner && p.Status != ProjectStatus.Deleting,
            limits.ProjectsPerUser, "Limits:ProjectsPerUser", "Projects per user, not counting those being deleted", ct);
    }

    /// <summary>Records the request and hands the rest to the provisioning saga, in one transaction.</summary>
    [WolverinePost("/api/projects", OperationId = "CreateProject")]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (ProjectAccepted, IStartStream, OutgoingMessages) Post(CreateProject command, ClaimsPrincipal principal, TimeProvider time)
    {
        var id = Guid.CreateVersion7();
        var owner = principal.UserId();
        var requested = ProjectDecider.Request(id, owner, command.Name!.Trim(), command.Os ?? ProjectOs.Windows11, time.GetUtcNow());
        return (new ProjectAccepted(id, ProjectStatus.Requested), MartenOps.StartStream<Project>(id, requested),
            [new StartProvisioning(id, owner)]);
    }
}
