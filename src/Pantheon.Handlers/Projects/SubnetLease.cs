using Marten;
using JasperFx;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;

namespace Pantheon.Handlers.Projects;

/// <summary>One leased /24, keyed by its CIDR: the primary key makes a subnet unique across every backend process.</summary>
public sealed class SubnetLease
{
    public string Id { get; set; } = "";
    public Guid ProjectId { get; set; }
    public DateTimeOffset LeasedAt { get; set; }
}

public sealed class SubnetPoolExhaustedException(string pool) : Exception($"The subnet pool {pool} has no free /24 left.");

/// <summary>Leases subnets from the pool. Each attempt commits on its own, so a collision with another process is
/// seen at once and the next free subnet tried. A project holds at most one lease (a unique index on its id): of two
/// runs of one project's step at once, on two nodes, the second to commit reads the first's lease and keeps it.</summary>
public sealed class SubnetLeases(ActorSessions sessions, ProjectSettings settings, TimeProvider time)
{
    private const int MaxCollisions = 64;
    private const int SpreadAfterCollision = 16;
    private static readonly DatabaseActor Leasing = new DatabaseActor.System("subnet leases");
    private readonly SubnetPool _pool = new(settings.SubnetPool);

    public async Task<Subnet> LeaseAsync(Guid projectId, IReadOnlyList<string> usedByEngine, CancellationToken ct)
    {
        for (var attempt = 0; attempt < MaxCollisions; attempt++)
        {
            await using var session = await sessions.ForAsync(Leasing, ct);
            var leases = await session.Query<SubnetLease>().ToListAsync(ct);
            var mine = leases.FirstOrDefault(l => l.ProjectId == projectId);
            if (mine is not null) return Subnet.Parse(mine.Id); // a retried step keeps its subnet

            // The lowest free subnet first; after a collision, any of the lowest free ones: projects created at once all
            // see the same lowest subnet, and would otherwise collide on each next one in turn.
            var candidates = _pool.Free(leases.Select(l => l.Id), usedByEngine).Take(attempt == 0 ? 1 : SpreadAfterCollision).ToList();
            if (candidates.Count == 0) throw new SubnetPoolExhaustedException(_pool.Cidr);
            var free = candidates[Random.Shared.Next(candidates.Count)];
            session.Insert(new SubnetLease { Id = free.Cidr, ProjectId = projectId, LeasedAt = time.GetUtcNow() });
            try
            {
                await session.SaveChangesAsync(ct);
                return free;
            }
            catch (Exception e) when (e is DocumentAlreadyExistsException || e.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
            {
                // Another process leased this subnet, or one for this project, between our read and our insert: read again.
            }
        }
        throw new InvalidOperationException($"Could not lease a subnet for project {projectId} after {MaxCollisions} collisions.");
    }

    /// <summary>
    /// When the project holds a lease on <paramref name="cidr"/>, gives up its other leases (left by another run of the
    /// same step) and answers true; false when that subnet is not the project's.
    /// </summary>
    public async Task<bool> KeepOnlyAsync(Guid projectId, string cidr, CancellationToken ct)
    {
        await using var session = await sessions.ForAsync(Leasing, ct);
        var lease = await session.LoadAsync<SubnetLease>(cidr, ct);
        if (lease?.ProjectId != projectId) return false;
        session.DeleteWhere<SubnetLease>(l => l.ProjectId == projectId && l.Id != cidr);
        await session.SaveChangesAsync(ct);
        return true;
    }

    /// <summary>Gives up the project's lease, committed at once (the engine refused its subnet).</summary>
    public async Task ReleaseAsync(Guid projectId, CancellationToken ct)
    {
        await using var session = await sessions.ForAsync(Leasing, ct);
        session.DeleteWhere<SubnetLease>(l => l.ProjectId == projectId);
        await session.SaveChangesAsync(ct);
    }
}
