using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Projects;
using Pantheon.Web.Auth;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace Pantheon.Web.Projects;

public static class DeleteProjectEndpoint
{
    public static ProblemDetails Validate(Project? project, ClaimsPrincipal principal) =>
        ProjectLifecycleEndpoints.Owned(project, principal);

    /// <summary>
    /// Records the request and hands teardown to the saga; asking again while it runs changes nothing. The stream is locked
    /// while the decision is made (a delete may come in the middle of provisioning): a saga step committing at that moment
    /// waits and then retries on the newer stream, instead of the delete failing on a version conflict.
    /// </summary>
    [WolverineDelete("/api/projects/{id}", OperationId = "DeleteProject")]
    public static (ProjectAccepted, Events, OutgoingMessages) Delete(
        [WriteAggregate(Required = false, LoadStyle = ConcurrencyStyle.Exclusive)] Project? project, TimeProvider time)
    {
        var events = ProjectDecider.Delete(project!, time.GetUtcNow());
        return (new ProjectAccepted(project!.Id, ProjectStatus.Deleting), new Events(events), ProjectSagaMessages.For(project.Id, events));
    }
}
