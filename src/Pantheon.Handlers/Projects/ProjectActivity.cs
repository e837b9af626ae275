using System.Collections.Concurrent;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Projections.Projects;
using Wolverine;

namespace Pantheon.Handlers.Projects;

/// <summary>
/// When each project was last used (a chat about it, a viewer session, tool calls once they exist), for idle stop. A touch
/// costs a dictionary write: no event, no database call. <see cref="FlushAsync"/> writes the latest touches to the
/// <c>project_activity</c> table (one row per project, only ever moved forward), which every backend process reads.
/// </summary>
public sealed class ProjectActivity(NpgsqlDataSource db, IDocumentStore store, TimeProvider time)
{
    public const string Table = "project_activity";

    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _touched = new();
    private readonly string _table = $"{store.Options.DatabaseSchemaName}.{Table}";

    public ValueTask TouchAsync(Guid projectId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        _touched.AddOrUpdate(projectId, now, (_, seen) => seen > now ? seen : now);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes the touches since the last flush; a later time never goes back, whichever process writes last.</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        var batch = new List<(Guid Id, DateTimeOffset At)>();
        foreach (var id in _touched.Keys)
            if (_touched.TryRemove(id, out var at)) batch.Add((id, at));
        if (batch.Count == 0) return;
        try
        {
            await using var command = db.CreateCommand($"""
                insert into {_table} as a (project_id, last_active) select * from unnest($1::uuid[], $2::timestamptz[])
                on conflict (project_id) do update set last_active = greatest(a.last_active, excluded.last_active)
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(b => b.Id).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(b => b.At.UtcDateTime).ToArray() });
            await command.ExecuteNonQueryAsync(ct);
        }
        catch
        {
            // Not written: the touches stay for the next flush rather than being lost.
            foreach (var (id, at) in batch) _touched.AddOrUpdate(id, at, (_, seen) => seen > at ? seen : at);
            throw;
        }
    }

    /// <summary>The last recorded activity of each of <paramref name="projectIds"/> that has any.</summary>
    public async Task<IReadOnlyDictionary<Guid, DateTimeOffset>> LastActiveAsync(IReadOnlyList<Guid> projectIds, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select project_id, last_active from {_table} where project_id = any($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = projectIds.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var last = new Dictionary<Guid, DateTimeOffset>();
        while (await reader.ReadAsync(ct)) last[reader.GetGuid(0)] = reader.GetFieldValue<DateTimeOffset>(1);
        return last;
    }
}

/// <summary>
/// Every <see cref="ProjectSettings.IdleCheckSeconds"/>: flushes this process's activity, then stops each ready project
/// unused for <see cref="ProjectSettings.IdleStopAfter"/> (off when it is zero). Each stop is decided again on the
/// aggregate (<see cref="StopIfIdle"/>), so processes that check at once stop a project once.
/// </summary>
public sealed class IdleStopService(
    IServiceProvider services, ProjectActivity activity, ProjectSettings settings, TimeProvider time, IHostApplicationLifetime lifetime,
    ILogger<IdleStopService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await lifetime.WhenStartedAsync(stoppingToken);

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, settings.IdleCheckSeconds)));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await activity.FlushAsync(stoppingToken);
                if (settings.IdleStopAfter > TimeSpan.Zero) await StopIdleAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One failed pass (the database restarting) must not stop the next; it is logged, not hidden.
                logger.LogError(e, "The idle stop pass failed; trying again in {Seconds} s", settings.IdleCheckSeconds);
            }
        }
    }

    private async Task StopIdleAsync(CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        // Idle stop acts for no user: it reads every user's ready projects on the named system path.
        await using var session = await scope.ServiceProvider.GetRequiredService<ActorSessions>()
            .ForAsync(new DatabaseActor.System("idle stop"), ct);
        var ready = await session.Query<ProjectView>().Where(p => p.Status == ProjectStatus.Ready)
            .Select(p => new ReadyProject(p.Id, p.ReadyAt)).ToListAsync(ct);
        if (ready.Count == 0) return;
        var last = await activity.LastActiveAsync(ready.Select(p => p.Id).ToList(), ct);
        var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
        var threshold = time.GetUtcNow() - settings.IdleStopAfter;
        foreach (var project in ready)
        {
            DateTimeOffset? lastActive = last.TryGetValue(project.Id, out var at) ? at : null;
            // Only the candidates load their stream; the decider decides again on the aggregate.
            if (new[] { lastActive, project.ReadyAt }.Max() is { } since && since > threshold) continue;
            await bus.InvokeAsync(new StopIfIdle(project.Id, lastActive), ct);
        }
    }

    private sealed record ReadyProject(Guid Id, DateTimeOffset? ReadyAt);
}
