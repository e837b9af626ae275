using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using Pantheon.Domain.Audit;

namespace Pantheon.Projections.Audit;

/// <summary>One event of any stream, as the audit log shows it.</summary>
public sealed class AuditEntry
{
    /// <summary>The event's global sequence: the order of the log and its paging cursor.</summary>
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    public Guid Stream { get; set; }
    public long Version { get; set; }
    public string Type { get; set; } = "";
    public string? UserId { get; set; }
    public string? CorrelationId { get; set; }
    public string Summary { get; set; } = "";
}

/// <summary>
/// Every event becomes an <see cref="AuditEntry"/>. Async, on the daemon (HotCold outside tests), so several
/// backend processes on one database build it once.
/// </summary>
public sealed class AuditProjection : IProjection
{
    public const string Name = "Audit";

    public Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        foreach (var e in events)
        {
            operations.Store(new AuditEntry
            {
                Id = e.Sequence, At = e.Timestamp, Stream = e.StreamId, Version = e.Version, Type = e.EventTypeName, UserId = e.UserName,
                CorrelationId = e.CorrelationId, Summary = AuditText.Summary(e.Data),
            });
        }
        return Task.CompletedTask;
    }
}
