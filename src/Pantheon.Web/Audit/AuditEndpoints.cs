using System.Security.Claims;
using Marten;
using Marten.Linq;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Audit;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Projections.Audit;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Wolverine.Http;

namespace Pantheon.Web.Audit;

public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, long? NextAfter);

public static class AuditEndpoint
{
    public const int DefaultLimit = 100, MaxLimit = 500;

    /// <summary>
    /// The caller's own entries; with <c>pantheon-admin</c>, everyone's (and <c>user</c> filters by who caused them).
    /// Cursor paging by sequence: pass the last page's <c>next_after</c> as <c>after</c>.
    /// </summary>
    [WolverineGet("/api/audit", OperationId = "GetAudit")]
    [ProducesResponseType<AuditPage>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(ClaimsPrincipal principal, IQuerySession session, ActorSessions sessions, Guid? stream,
        string? type, string? user, DateTimeOffset? from, DateTimeOffset? to, long? after, int? limit, CancellationToken ct)
    {
        var size = limit ?? DefaultLimit;
        if (size is < 1 or > MaxLimit)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxLimit}."] });
        if (user is not null && !principal.IsAdmin())
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["user"] = ["Only pantheon-admin may filter by user."] });

        // An operator reads every user's entries on the named system path; anyone else on the request's, which sees only theirs.
        await using var operatorSession = principal.IsAdmin()
            ? await sessions.ForAsync(new DatabaseActor.System("operator audit"), ct) : null;
        IQueryable<AuditEntry> query = (operatorSession ?? session).Query<AuditEntry>();
        var who = principal.IsAdmin() ? user : principal.UserId();
        if (who is not null) query = query.Where(e => e.UserId == who);
        if (stream is { } s) query = query.Where(e => e.Stream == s);
        if (type is not null) query = query.Where(e => e.Type == type);
        if (from is { } f) query = query.Where(e => e.At >= f);
        if (to is { } t) query = query.Where(e => e.At <= t);
        if (after is { } a) query = query.Where(e => e.Id > a);
        var entries = await query.OrderBy(e => e.Id).Take(size + 1).ToListAsync(ct);
        var page = entries.Take(size).ToList();
        return Results.Json(new AuditPage(page, entries.Count > size ? page[^1].Id : null));
    }
}

public sealed record ProjectEvent(long Sequence, long Version, DateTimeOffset At, string Type, string? UserId, string? CorrelationId, string Summary, object Data);

public static class ProjectEventsEndpoint
{
    /// <summary>The project's own stream, in order, for its owner; secrets redacted.</summary>
    [WolverineGet("/api/projects/{id}/events", OperationId = "GetProjectEvents")]
    [ProducesResponseType<IReadOnlyList<ProjectEvent>>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(Guid id, ClaimsPrincipal principal, IQuerySession session, CancellationToken ct)
    {
        var events = await session.Events.FetchStreamAsync(id, token: ct);
        var owner = events.Select(e => e.Data).OfType<Domain.Projects.ProjectRequested>().FirstOrDefault()?.OwnerId;
        if (owner is null || owner != principal.UserId()) return Results.Problem(Problems.NotFound("The project"));
        return Results.Json(events.Select(e => new ProjectEvent(e.Sequence, e.Version, e.Timestamp, e.EventTypeName, e.UserName, e.CorrelationId,
            AuditText.Summary(e.Data), AuditText.Redacted(e.Data))).ToList());
    }
}
