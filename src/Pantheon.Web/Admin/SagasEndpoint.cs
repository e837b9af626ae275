using Marten;
using Marten.Linq.MatchesSql;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Projects;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Wolverine.Http;

namespace Pantheon.Web.Admin;

/// <summary>One project and its provisioning saga as operators see it; the name stays after the project is deleted.</summary>
public sealed record SagaRow(
    Guid ProjectId, string ProjectName, string OwnerId, string ProjectStatus, string? Step, int Attempts, double AgeSeconds,
    string? LastError, bool WaitingOnTimeout, DateTimeOffset StartedAt, DateTimeOffset UpdatedAt, DateTimeOffset? DeletedAt);

/// <summary>A page of the dashboard: in flight first, then failed, then the rest, deleted last; counts are of every project.</summary>
public sealed record SagaDashboard(IReadOnlyDictionary<string, int> Counts, IReadOnlyList<SagaRow> Items, string? NextAfter);

public static class SagasEndpoint
{
    public static ProblemDetails Validate(int? limit) => Paging.Validate(limit);

    /// <summary>
    /// Every project with its saga, <c>pantheon-admin</c> only: filters <c>status</c> and <c>owner</c>, paging <c>limit</c> and
    /// <c>after</c> (the last page's <c>next_after</c>). Reads one page of <see cref="ProjectOverview"/> by its sort key and
    /// the sagas of that page, and counts statuses on an indexed column, so deleted projects cost nothing to show.
    /// </summary>
    [WolverineGet("/api/admin/sagas", OperationId = "ListSagas")]
    [Authorize(Roles = AuthSettings.AdminRole)]
    public static async Task<SagaDashboard> Get(string? status, string? owner, string? after, int? limit, IQuerySession session,
        NpgsqlDataSource db, TimeProvider time, CancellationToken ct)
    {
        var size = limit ?? Paging.DefaultLimit;
        var query = session.Query<ProjectOverview>().AsQueryable();
        if (!string.IsNullOrEmpty(status)) query = query.Where(p => p.Status == status);
        if (!string.IsNullOrEmpty(owner)) query = query.Where(p => p.OwnerId == owner);
        if (!string.IsNullOrEmpty(after)) query = query.Where(p => p.MatchesSql("d.sort_key > ?", after));
        var rows = await query.OrderBy(p => p.SortKey).Take(size + 1).ToListAsync(ct);
        var page = rows.Take(size).ToList();

        var ids = page.Select(p => p.Id).ToList();
        var sagas = (await session.Query<ProjectProvisioning>().Where(s => ids.Contains(s.Id)).ToListAsync(ct)).ToDictionary(s => s.Id);
        var now = time.GetUtcNow();
        var items = page.Select(p => Row(p, sagas.GetValueOrDefault(p.Id), now)).ToList();
        return new SagaDashboard(await CountAsync(session, db, ct), items, rows.Count > size ? page[^1].SortKey : null);
    }

    private static SagaRow Row(ProjectOverview project, ProjectProvisioning? saga, DateTimeOffset now)
    {
        var started = saga?.StartedAt ?? project.CreatedAt;
        // A health poll or a retry with backoff is a scheduled message: the saga waits on a timeout.
        var waiting = saga is not null && (saga.Step == ProvisioningStep.WaitingForVm
            || saga.Attempts > 0 && saga.Step is not (ProvisioningStep.Ready or ProvisioningStep.Failed or ProvisioningStep.Deleted
                or ProvisioningStep.Stopped));
        return new SagaRow(project.Id, project.Name, project.OwnerId, project.Status, saga?.Step.ToString(), saga?.Attempts ?? 0,
            Math.Round((now - started).TotalSeconds, 1), saga?.LastError ?? project.FailureReason, waiting, started,
            saga is null || project.UpdatedAt > saga.UpdatedAt ? project.UpdatedAt : saga.UpdatedAt, project.DeletedAt);
    }

    private static async Task<IReadOnlyDictionary<string, int>> CountAsync(IQuerySession session, NpgsqlDataSource db,
        CancellationToken ct)
    {
        var table = session.DocumentStore.Options.FindOrResolveDocumentType(typeof(ProjectOverview)).TableName.QualifiedName;
        // The overview is under row policies (it names owners): operators count every user's rows on the named system path.
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new DatabaseActor.System("operator dashboard counts").SetBatchCommand());
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"select status, count(*)::int from {table} group by status"));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct); // past the actor's statement
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct)) counts[reader.GetString(0)] = reader.GetInt32(1);
        return counts;
    }
}
