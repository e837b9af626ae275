using Marten;
using Microsoft.AspNetCore.Authorization;
using Pantheon.Handlers.Projects;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Wolverine.Http;

namespace Pantheon.Web.Admin;

/// <summary>One provisioning saga as operators see it.</summary>
public sealed record SagaRow(
    Guid ProjectId, string? ProjectName, string OwnerId, string Step, string? ProjectStatus, int Attempts, double AgeSeconds,
    string? LastError, bool WaitingOnTimeout, DateTimeOffset StartedAt, DateTimeOffset UpdatedAt);

public static class SagasEndpoint
{
    /// <summary>Every provisioning saga, newest first; <c>pantheon-admin</c> only.</summary>
    [WolverineGet("/api/admin/sagas", OperationId = "ListSagas")]
    [Authorize(Roles = AuthSettings.AdminRole)]
    public static async Task<IReadOnlyList<SagaRow>> Get(IQuerySession session, TimeProvider time, CancellationToken ct)
    {
        var sagas = await session.Query<ProjectProvisioning>().OrderByDescending(s => s.StartedAt).Take(1000).ToListAsync(ct);
        var ids = sagas.Select(s => s.Id).ToList();
        var projects = (await session.Query<ProjectView>().Where(p => ids.Contains(p.Id)).ToListAsync(ct)).ToDictionary(p => p.Id);
        var now = time.GetUtcNow();
        return sagas.Select(s =>
        {
            projects.TryGetValue(s.Id, out var project);
            return new SagaRow(s.Id, project?.Name, project?.OwnerId ?? "", s.Step.ToString(),
                project?.Status.ToString().ToLowerInvariant(), s.Attempts,
                Math.Round((now - s.StartedAt).TotalSeconds, 1), s.LastError,
                // A health poll or a retry with backoff is a scheduled message: the saga waits on a timeout.
                s.Step == ProvisioningStep.WaitingForVm
                    || s.Attempts > 0
                        && s.Step is not (ProvisioningStep.Ready or ProvisioningStep.Failed or ProvisioningStep.Deleted
                            or ProvisioningStep.Stopped),
                s.StartedAt, s.UpdatedAt);
        }).ToList();
    }
}
