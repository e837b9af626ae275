using System.Net;
using Marten;
using Pantheon.Domain.Projects;
using Pantheon.Projections.Projects;

namespace Pantheon.Tools.Projects;

/// <summary>A project as the tools API needs it: read from the backend's <see cref="ProjectView"/>, never written.</summary>
public sealed record ToolProject(Guid Id, string OwnerId, string Name, ProjectStatus Status, Subnet Subnet, string? NetworkId,
    string? VmAddress, string? SharedFolderPath);

/// <summary>The live projects (those with a network, not failed or being deleted), cached briefly.</summary>
public sealed class ProjectDirectory(IDocumentStore store, ToolsSettings settings, TimeProvider time)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (DateTimeOffset At, IReadOnlyList<ToolProject> Projects)? _cache;

    public async Task<IReadOnlyList<ToolProject>> LiveAsync(bool fresh, CancellationToken ct)
    {
        var cached = _cache;
        if (!fresh && cached is { } c && time.GetUtcNow() - c.At < TimeSpan.FromMilliseconds(settings.ProjectCacheMilliseconds))
            return c.Projects;
        await _gate.WaitAsync(ct);
        try
        {
            await using var session = store.QuerySession();
            var views = await session.Query<ProjectView>()
                .Where(p => p.Subnet != null && p.Status != ProjectStatus.Failed && p.Status != ProjectStatus.Deleting)
                .ToListAsync(ct);
            var projects = views.Select(ToTool).ToList();
            _cache = (time.GetUtcNow(), projects);
            return projects;
        }
        finally { _gate.Release(); }
    }

    /// <summary>The project whose <c>.1</c> is <paramref name="local"/>, read again once when the cached list has none.</summary>
    public async Task<ToolProject?> AtToolsAddressAsync(IPAddress local, CancellationToken ct)
    {
        var address = local.ToString();
        return (await LiveAsync(false, ct)).FirstOrDefault(p => p.Subnet.ToolsApi == address)
            ?? (await LiveAsync(true, ct)).FirstOrDefault(p => p.Subnet.ToolsApi == address);
    }

    /// <summary>
    /// The project as the backend's view has it now, past the cache and without reading the other projects: for what a
    /// tool reports (its status may have changed within the cache's time); null once it is no longer live.
    /// </summary>
    public async Task<ToolProject?> CurrentAsync(Guid id, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var view = await session.LoadAsync<ProjectView>(id, ct);
        return view is { Subnet: not null, Status: not (ProjectStatus.Failed or ProjectStatus.Deleting) } ? ToTool(view) : null;
    }

    private static ToolProject ToTool(ProjectView v) =>
        new(v.Id, v.OwnerId, v.Name, v.Status, Subnet.Parse(v.Subnet!), v.NetworkId, v.VmAddress, v.SharedFolderPath);

    public async Task<ToolProject?> FindAsync(Guid id, CancellationToken ct) =>
        (await LiveAsync(false, ct)).FirstOrDefault(p => p.Id == id) ?? (await LiveAsync(true, ct)).FirstOrDefault(p => p.Id == id);
}
