using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.OpenApi;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace Pantheon.Web.Projects;

/// <summary>
/// Stop, start and restart of a project's VM, by its owner (<c>/api/projects/{id}/...</c>) and by an operator
/// (<c>/api/admin/projects/{id}/...</c>). Each answers 202 with the status the decision leads to; the saga does the work.
/// A command the project's status does not allow is a 409 naming the status. Like the delete, each locks the project's
/// stream while it decides, so a saga step committing at that moment waits and retries instead of the command failing.
/// </summary>
public static class ProjectLifecycleEndpoints
{
    /// <summary>Another user's project answers exactly like one that never existed.</summary>
    public static ProblemDetails Owned(Project? project, ClaimsPrincipal principal) =>
        project is not null && project.OwnerId == principal.UserId() && project.Status != ProjectStatus.Deleted
            ? WolverineContinue.NoProblems
            : Problems.NotFound("The project");

    public static ProblemDetails Allowed(LifecycleDecision decision, string command) => decision.RefusedIn is { } status
        ? new ProblemDetails
        {
            Status = StatusCodes.Status409Conflict, Title = "Not allowed in this status",
            Detail = $"A project that is {ProjectUpdateWire(status)} cannot {command}.",
            Extensions = { ["project_status"] = ProjectUpdateWire(status) },
        }
        : WolverineContinue.NoProblems;

    public static (ProjectAccepted, Events, OutgoingMessages) Accepted(Project project, LifecycleDecision decision) => (
        new ProjectAccepted(project.Id, ProjectStatuses.After(decision.Events, project.Status)),
        new Events(decision.Events),
        ProjectSagaMessages.For(project.Id, decision.Events));

    private static string ProjectUpdateWire(ProjectStatus status) => Live.ProjectUpdateNotifier.Wire(status);

    internal static ProblemDetails Check(Project? project, ClaimsPrincipal? owner, Func<Project, LifecycleDecision> decide, string command)
    {
        if (owner is not null && Owned(project, owner) is var owned && !ReferenceEquals(owned, WolverineContinue.NoProblems)) return owned;
        if (project is null or { Status: ProjectStatus.Deleted }) return Problems.NotFound("The project");
        return Allowed(decide(project), command);
    }
}

public static class StopProjectEndpoint
{
    public static ProblemDetails Validate(Project? project, ClaimsPrincipal principal, TimeProvider time) =>
        ProjectLifecycleEndpoints.Check(project, principal, p => ProjectDecider.Stop(p, LifecycleReasons.Owner, time.GetUtcNow()), "stop");

    /// <summary>Stops a ready VM; its <c>/storage</c> volume, network and shared folder stay.</summary>
    [WolverinePost("/api/projects/{id}/stop", OperationId = "StopProject")]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (ProjectAccepted, Events, OutgoingMessages) Post(
        [WriteAggregate(Required = false, LoadStyle = ConcurrencyStyle.Exclusive)] Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Accepted(project!, ProjectDecider.Stop(project!, LifecycleReasons.Owner, time.GetUtcNow()));
}

public static class StartProjectEndpoint
{
    public static ProblemDetails Validate(Project? project, ClaimsPrincipal principal, TimeProvider time) =>
        ProjectLifecycleEndpoints.Check(project, principal, p =>
            ProjectDecider.Start(p, LifecycleReasons.Owner, time.GetUtcNow()), "start");

    /// <summary>Starts a stopped VM.</summary>
    [WolverinePost("/api/projects/{id}/start", OperationId = "StartProject")]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (ProjectAccepted, Events, OutgoingMessages) Post(
        [WriteAggregate(Required = false, LoadStyle = ConcurrencyStyle.Exclusive)] Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Accepted(project!, ProjectDecider.Start(project!, LifecycleReasons.Owner, time.GetUtcNow()));
}

public static class RestartProjectEndpoint
{
    public static ProblemDetails Validate(Project? project, ClaimsPrincipal principal, TimeProvider time) =>
        ProjectLifecycleEndpoints.Check(project, principal, p =>
            ProjectDecider.Restart(p, LifecycleReasons.Owner, time.GetUtcNow()), "restart");

    /// <summary>Stops and starts a ready VM, starts a stopped one, provisions a failed project again.</summary>
    [WolverinePost("/api/projects/{id}/restart", OperationId = "RestartProject")]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (ProjectAccepted, Events, OutgoingMessages) Post(
        [WriteAggregate(Required = false, LoadStyle = ConcurrencyStyle.Exclusive)] Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Accepted(project!, ProjectDecider.Restart(project!, LifecycleReasons.Owner, time.GetUtcNow()));
}

public static class AdminStopProjectEndpoint
{
    public static ProblemDetails Validate(Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Check(project, null, p => ProjectDecider.Stop(p, LifecycleReasons.Operator, time.GetUtcNow()), "stop");

    /// <summary>An operator stops any user's project; <c>pantheon-admin</c> only.</summary>
    [WolverinePost("/api/admin/projects/{id}/stop", OperationId = "AdminStopProject")]
    [Authorize(Roles = AuthSettings.AdminRole)]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (ProjectAccepted, Events, OutgoingMessages) Post(
        [WriteAggregate(Required = false, LoadStyle = ConcurrencyStyle.Exclusive)] Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Accepted(project!, ProjectDecider.Stop(project!, LifecycleReasons.Operator, time.GetUtcNow()));
}

public static class AdminStartProjectEndpoint
{
    public static ProblemDetails Validate(Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Check(project, null, p => ProjectDecider.Start(p, LifecycleReasons.Operator, time.GetUtcNow()), "start");

    /// <summary>An operator starts any user's project; <c>pantheon-admin</c> only.</summary>
    [WolverinePost("/api/admin/projects/{id}/start", OperationId = "AdminStartProject")]
    [Authorize(Roles = AuthSettings.AdminRole)]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (ProjectAccepted, Events, OutgoingMessages) Post(
        [WriteAggregate(Required = false, LoadStyle = ConcurrencyStyle.Exclusive)] Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Accepted(project!, ProjectDecider.Start(project!, LifecycleReasons.Operator, time.GetUtcNow()));
}

public static class AdminRestartProjectEndpoint
{
    public static ProblemDetails Validate(Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Check(project, null, p =>
            ProjectDecider.Restart(p, LifecycleReasons.Operator, time.GetUtcNow()), "restart");

    /// <summary>An operator restarts any user's project; <c>pantheon-admin</c> only.</summary>
    [WolverinePost("/api/admin/projects/{id}/restart", OperationId = "AdminRestartProject")]
    [Authorize(Roles = AuthSettings.AdminRole)]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (ProjectAccepted, Events, OutgoingMessages) Post(
        [WriteAggregate(Required = false, LoadStyle = ConcurrencyStyle.Exclusive)] Project? project, TimeProvider time) =>
        ProjectLifecycleEndpoints.Accepted(project!, ProjectDecider.Restart(project!, LifecycleReasons.Operator, time.GetUtcNow()));
}
